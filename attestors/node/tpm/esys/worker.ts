import { parentPort, workerData } from 'node:worker_threads';
import { AttestationDevice, type DeviceOptions } from './device.ts';
import { TssError } from './ffi.ts';
import type { PcrSelection } from '../pcr-selection.ts';

/**
 * TPM worker thread: owns the ESAPI context, so blocking TPM I/O (RSA key generation
 * takes ~200 ms) never stalls the agent's event loop. Requests run one at a time in
 * arrival order, which ESAPI requires anyway.
 */
export type WorkerRequest =
  | { id: number; op: 'identity' }
  | { id: number; op: 'activate'; credentialBlob: Uint8Array; encryptedSecret: Uint8Array }
  | { id: number; op: 'quote'; nonce: Uint8Array; selection: PcrSelection }
  | { id: number; op: 'close' };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; rc?: number } };

const port = parentPort!;
let device: AttestationDevice | undefined;
let openError: unknown;
try {
  device = AttestationDevice.open(workerData as DeviceOptions);
} catch (e) {
  openError = e;
}

port.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    if (!device) throw openError;
    let value: unknown;
    switch (req.op) {
      case 'identity': value = device.identity(); break;
      case 'activate': value = device.activate(req.credentialBlob, req.encryptedSecret); break;
      case 'quote': value = device.quote(req.nonce, req.selection); break;
      case 'close': device.close(); device = undefined; openError = new Error('TPM device closed'); value = null; break;
    }
    reply = { id: req.id, ok: true, value };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id: req.id, ok: false, error: { name: err.name, message: err.message, rc: e instanceof TssError ? e.rc : undefined } };
  }
  port.postMessage(reply);
  if (req.op === 'close') port.close();
});
