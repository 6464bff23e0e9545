/**
 * OpenID Shared Signals receiver (docs/shared-signals.md): verify SETs pushed to an
 * endpoint (RFC 8935) or polled from the transmitter (RFC 8936), and turn Tessera's
 * CAEP events into revocations the delegated-token validator refuses.
 */
export { createPushReceiver, type PushReceiverOptions } from './push.ts';
export { SsfPollClient, type PollClientOptions } from './poll.ts';
export { SsfRevocations, type SsfRevocationsOptions, SESSION_REVOKED, CREDENTIAL_CHANGE, VERIFICATION } from './revocations.ts';
export { verifySet, type SecurityEvent, type VerifySetOptions } from './set.ts';
export { SetRejected, SsfPollError, type SetErrorCode } from './errors.ts';
