import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/proc.ts';

/** Reading deploy/kubernetes and deploy/Containerfile for the deployment tests. */
export const K8S_DIR = join(ROOT, 'deploy', 'kubernetes');
export const CONTAINERFILE = join(ROOT, 'deploy', 'Containerfile');

export interface Manifest { file: string; index: number; doc: Record<string, any> }

export function manifestFiles(): string[] {
  return readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
}

export function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of manifestFiles()) {
    parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).forEach((d, index) => {
      if (d.errors.length) throw new Error(`${file} document ${index + 1}: ${d.errors[0]!.message}`);
      const doc = d.toJS();
      if (doc !== null) out.push({ file, index, doc });
    });
  }
  return out;
}

export const label = (m: Manifest) => `${m.file}: ${m.doc.kind}/${m.doc.metadata?.name}`;

export function find(ms: Manifest[], kind: string, name: string): Record<string, any> {
  const m = ms.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name);
  if (!m) throw new Error(`no ${kind}/${name} in deploy/kubernetes`);
  return m.doc;
}

/** kubernetes-models lays its classes out as <apiVersion>/<Kind> (core: v1/<Kind>). */
export const modelModule = (apiVersion: string, kind: string) => `kubernetes-models/${apiVersion}/${kind}`;

/**
 * The models' JSON schemas allow unknown properties, so a misspelt field would pass
 * validate(). Their TypeScript interfaces do not: each manifest is type-checked as an
 * object literal of its kind's interface, and excess-property errors name the field.
 */
export function unknownFieldErrors(ms: Manifest[]): string[] {
  const lines = ms.map((m, i) => `import type { I${m.doc.kind} as T${i} } from '${modelModule(m.doc.apiVersion, m.doc.kind)}';\n`
    + `export const m${i}: T${i} = ${JSON.stringify(m.doc)};`);
  const file = join(ROOT, '__deploy_manifests__.ts');
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts'],
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host), fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) => (f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest));
  host.fileExists = (f) => f === file || fileExists(f);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const at = line >= 0 ? label(ms[Math.floor(line / 2)]!) : '?';
    return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

export interface Instruction { stage: number; op: string; args: string }

/** Containerfile instructions with continuation lines joined and ARG defaults substituted; stage 0 is before the first FROM. */
export function containerfile(text = readFileSync(CONTAINERFILE, 'utf8')): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  let stage = 0;
  return joined.map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    const argsText = rest.join(' ').replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
    if (op === 'ARG') { const [k, v] = argsText.split('='); if (v !== undefined) args[k!] = v; }
    if (op === 'FROM') stage++;
    return { stage, op: op!.toUpperCase(), args: argsText };
  });
}

/** Every Role/ClusterRole rule that grants verb on group/resource. */
export function allows(rules: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[], group: string, resource: string, verb: string): boolean {
  return rules.some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && (r.verbs ?? []).includes(verb));
}
