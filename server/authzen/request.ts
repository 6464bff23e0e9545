/**
 * The AuthZEN Authorization API 1.0 request model (docs/authzen.md): Subject, Action,
 * Resource, Context, and the evaluations (batch) envelope with its defaults and
 * evaluation semantics. Parsed here, at the edge, into validated values; anything the
 * information model requires but the body lacks, or carries with the wrong type, is an
 * AuthzenError 400 naming the member. Unknown members are ignored (forward
 * compatibility, §"JSON Serialization").
 */
export interface Entity { type: string; id: string; properties?: Record<string, unknown> }
export interface Action { name: string; properties?: Record<string, unknown> }
export interface Evaluation { subject: Entity; action: Action; resource: Entity; context?: Record<string, unknown> }
export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

export interface Decision { decision: boolean; context?: Record<string, unknown> }

/** A transport-level error (AuthZEN "Error Responses"): the status and a message saying what was wrong. */
export class AuthzenError extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 500 | 503, message: string) {
    super(message);
    this.name = 'AuthzenError';
  }

  toJSON(): { error: { status: number; message: string } } { return { error: { status: this.status, message: this.message } }; }
}

export const MAX_EVALUATIONS = 64;
const MAX_STRING = 2048;
const SEMANTICS: readonly EvaluationsSemantic[] = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (m: string) => new AuthzenError(400, m);

/** The body of either endpoint: a JSON object, sent as application/json. */
export function parseJsonBody(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media !== 'application/json') throw bad(`the request body must be application/json, not ${media ? `"${media.slice(0, 80)}"` : 'missing a content type'}`);
  if (body.length === 0) throw bad('the request body is empty; send a JSON object');
  let v: unknown;
  try { v = JSON.parse(body.toString('utf8')); } catch (e) { throw bad(`the request body is not JSON: ${(e as Error).message}`); }
  if (!isObject(v)) throw bad('the request body must be a JSON object');
  return v;
}

/** POST /access/v1/evaluation. */
export function parseEvaluation(b: Record<string, unknown>): Evaluation {
  return {
    subject: entity(b.subject, 'subject'), action: action(b.action, 'action'), resource: entity(b.resource, 'resource'),
    ...(b.context !== undefined ? { context: object(b.context, 'context') } : {}),
  };
}

/**
 * POST /access/v1/evaluations: `evaluations` with the top-level subject, action,
 * resource and context as defaults (an evaluation's own member wins); without a
 * non-empty array, the body is one evaluation. `single` tells the caller which
 * response shape to send.
 */
export function parseEvaluations(b: Record<string, unknown>): { evaluations: Evaluation[]; semantic: EvaluationsSemantic; single: boolean } {
  const options = b.options === undefined ? {} : object(b.options, 'options');
  const s = options.evaluations_semantic ?? 'execute_all';
  if (!SEMANTICS.includes(s as EvaluationsSemantic)) throw bad(`options.evaluations_semantic ${JSON.stringify(s).slice(0, 80)} is not one of ${SEMANTICS.join(', ')}`);
  const semantic = s as EvaluationsSemantic;
  if (b.evaluations === undefined || (Array.isArray(b.evaluations) && b.evaluations.length === 0)) {
    return { evaluations: [parseEvaluation(b)], semantic, single: true };
  }
  if (!Array.isArray(b.evaluations)) throw bad('evaluations must be an array of evaluation objects');
  if (b.evaluations.length > MAX_EVALUATIONS) throw bad(`evaluations has ${b.evaluations.length} entries; at most ${MAX_EVALUATIONS} per request`);
  const evaluations = b.evaluations.map((e, i) => {
    if (!isObject(e)) throw bad(`evaluations[${i}] must be an object`);
    const at = (k: string) => (e[k] !== undefined ? { v: e[k], name: `evaluations[${i}].${k}` } : { v: b[k], name: k });
    const [su, ac, re, co] = [at('subject'), at('action'), at('resource'), at('context')];
    const missing = [su, ac, re].find((x) => x.v === undefined);
    if (missing) throw bad(`evaluations[${i}] has no ${missing.name.split('.').pop()}, and the request gives no default one`);
    return {
      subject: entity(su.v, su.name), action: action(ac.v, ac.name), resource: entity(re.v, re.name),
      ...(co.v !== undefined ? { context: object(co.v, co.name) } : {}),
    };
  });
  return { evaluations, semantic, single: false };
}

function entity(v: unknown, name: string): Entity {
  if (v === undefined) throw bad(`${name} is required`);
  if (!isObject(v)) throw bad(`${name} must be an object with type and id`);
  return { type: string(v.type, `${name}.type`), id: string(v.id, `${name}.id`), ...(v.properties !== undefined ? { properties: object(v.properties, `${name}.properties`) } : {}) };
}

function action(v: unknown, name: string): Action {
  if (v === undefined) throw bad(`${name} is required`);
  if (!isObject(v)) throw bad(`${name} must be an object with a name`);
  return { name: string(v.name, `${name}.name`), ...(v.properties !== undefined ? { properties: object(v.properties, `${name}.properties`) } : {}) };
}

function string(v: unknown, name: string): string {
  if (v === undefined) throw bad(`${name} is required`);
  if (typeof v !== 'string') throw bad(`${name} must be a string, not ${Array.isArray(v) ? 'an array' : typeof v}`);
  if (v.length === 0 || v.length > MAX_STRING) throw bad(`${name} must be 1 to ${MAX_STRING} characters`);
  return v;
}

function object(v: unknown, name: string): Record<string, unknown> {
  if (!isObject(v)) throw bad(`${name} must be an object`);
  return v;
}
