// The kernel reads moved to common/peercred (the admin socket uses them too); kept here for node-agent importers.
export { readPeerCredentials, readPeerPidfd, socketFd, type PeerCredentials } from '../../common/peercred/peer-credentials.ts';
