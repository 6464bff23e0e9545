import { JwtSvidError } from '../errors.ts';
import { SpiffeId } from '../id.ts';
import { jwtSvidOf } from '../jwtsvid/parse.ts';
import type { JwtSvid } from '../jwtsvid/types.ts';
import type { ValidatedJwt } from './client.ts';

/** A ValidateJWTSVID answer as a JwtSvid (the agent checked signature, aud and exp). */
export function validatedToJwtSvid(token: string, v: ValidatedJwt): JwtSvid {
  const c = v.claims;
  const aud = typeof c.aud === 'string' ? [c.aud] : Array.isArray(c.aud) ? c.aud.filter((a): a is string => typeof a === 'string') : [];
  if (typeof c.exp !== 'number') throw new JwtSvidError('ERR_JWTSVID_INVALID', 'missing_exp', 'ValidateJWTSVID returned claims without exp');
  return jwtSvidOf(SpiffeId.parse(v.spiffeId), token, aud, c.exp, c);
}
