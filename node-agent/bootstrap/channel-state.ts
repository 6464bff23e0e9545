import * as grpc from '@grpc/grpc-js';

/**
 * Follows one grpc-js channel's connectivity state and reports the transitions the
 * agent acts on: the connection came up, an established connection went away, a
 * connection attempt failed, or the channel went idle (it connects again only when
 * asked). grpc-js only offers "tell me when the state leaves X",
 * so the watch re-arms itself until the channel shuts down or stop() is called.
 */
export type ChannelEvent = 'ready' | 'lost' | 'connect-failed' | 'idle';

const { IDLE, READY, TRANSIENT_FAILURE, SHUTDOWN } = grpc.connectivityState;
/** Re-arm period of the watch; only bounds one wait, not how soon a change is seen. */
const WATCH_WINDOW_MS = 60 * 60_000;

export type WatchedChannel = Pick<grpc.ChannelInterface, 'watchConnectivityState' | 'getConnectivityState'>;

export function watchChannel(channel: WatchedChannel, onEvent: (e: ChannelEvent) => void): () => void {
  let stopped = false;
  const arm = (from: grpc.connectivityState) => {
    channel.watchConnectivityState(from, Date.now() + WATCH_WINDOW_MS, () => {
      if (stopped) return;
      const to = channel.getConnectivityState(false);
      if (to === SHUTDOWN) return;
      if (to !== from) {
        if (to === READY) onEvent('ready');
        else if (from === READY) onEvent('lost');
        else if (to === IDLE) onEvent('idle');
        if (to === TRANSIENT_FAILURE) onEvent('connect-failed');
      }
      // onEvent may have replaced (and closed) this channel.
      if (!stopped && channel.getConnectivityState(false) !== SHUTDOWN) arm(to);
    });
  };
  arm(channel.getConnectivityState(false));
  return () => { stopped = true; };
}
