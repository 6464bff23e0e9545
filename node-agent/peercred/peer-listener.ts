import { PeerListener, type PeerListenerOptions } from '../../common/peercred/peer-listener.ts';
import { kernelPeerCredentials, type PeerCredentialSource } from '../../common/peercred/peer-credentials.ts';
import { PeerProcess } from './peer-process.ts';

export interface WorkloadPeerListenerOptions extends Omit<PeerListenerOptions<PeerProcess>, 'capture' | 'name'> {
  /** Default: SO_PEERCRED/SO_PEERPIDFD from the kernel. */
  source?: PeerCredentialSource;
  procRoot?: string;
}

/**
 * The Workload API's listener: each connection pinned to its PeerProcess (credentials,
 * pidfd, start time, executable), which workload attestation re-verifies per call.
 * The socket is for every local user, so its mode defaults to 0777.
 */
export class PeerCredentialListener extends PeerListener<PeerProcess> {
  constructor(opts: WorkloadPeerListenerOptions) {
    const { source, procRoot, ...rest } = opts;
    super({
      ...rest, name: 'workload', mode: opts.mode ?? 0o777,
      capture: (sock) => PeerProcess.capture(sock, source ?? kernelPeerCredentials, procRoot),
    });
  }
}
