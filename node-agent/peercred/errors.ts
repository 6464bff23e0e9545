// The error moved to common/peercred (the admin socket reads peer credentials too); kept here for node-agent importers.
export { PeerCredentialsError } from '../../common/peercred/errors.ts';
