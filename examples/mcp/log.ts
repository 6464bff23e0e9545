/** The example's shared bits: required environment variables and JSON logs on stderr (stdout carries only answers). */
export const log = (msg: string, fields: Record<string, unknown> = {}) => console.error(JSON.stringify({ msg, ...fields }));

export const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) { log(`${name} is required`); process.exit(64); }
  return v;
};
