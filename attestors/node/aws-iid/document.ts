import { AttestationError } from '../../../common/errors.ts';
import { decodeJsonObject, optionalString, requireString } from '../cloud/evidence.ts';

/** The fields of an EC2 instance identity document that identity decisions use. */
export interface InstanceIdentityDocument {
  accountId: string;
  region: string;
  availabilityZone: string;
  instanceId: string;
  instanceType: string;
  imageId: string;
  pendingTime: Date;
  architecture?: string;
  privateIp?: string;
}

const CODE = 'ERR_AWS_IID_DOCUMENT_MALFORMED';

export function parseIdentityDocument(bytes: Uint8Array): InstanceIdentityDocument {
  const what = 'aws_iid: instance identity document';
  const o = decodeJsonObject(bytes, CODE, what);
  const doc: InstanceIdentityDocument = {
    accountId: requireString(o, 'accountId', CODE, what),
    region: requireString(o, 'region', CODE, what),
    availabilityZone: requireString(o, 'availabilityZone', CODE, what),
    instanceId: requireString(o, 'instanceId', CODE, what),
    instanceType: requireString(o, 'instanceType', CODE, what),
    imageId: requireString(o, 'imageId', CODE, what),
    pendingTime: new Date(requireString(o, 'pendingTime', CODE, what)),
    architecture: optionalString(o, 'architecture'),
    privateIp: optionalString(o, 'privateIp'),
  };
  if (Number.isNaN(doc.pendingTime.getTime())) throw new AttestationError('invalid_argument', CODE, `${what} pendingTime ${JSON.stringify(o.pendingTime)} is not a time`);
  if (!/^\d{12}$/.test(doc.accountId)) throw new AttestationError('invalid_argument', CODE, `${what} accountId ${JSON.stringify(doc.accountId)} is not 12 digits`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(doc.region)) throw new AttestationError('invalid_argument', CODE, `${what} region ${JSON.stringify(doc.region)} is not an AWS region name`);
  if (!/^i-[0-9a-f]{8,32}$/.test(doc.instanceId)) throw new AttestationError('invalid_argument', CODE, `${what} instanceId ${JSON.stringify(doc.instanceId)} is not an instance ID`);
  return doc;
}
