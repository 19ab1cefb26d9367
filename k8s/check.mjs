// Checks Kubernetes manifests before any cluster sees them (run by check.sh, which installs the
// packages). Every object must be of an apiVersion and kind that kubernetes-models has a model for
// (an object of any other kind fails: skipping it would pass whatever it says) and pass that
// model's validate(), the Kubernetes API's OpenAPI schema: types, enums, required fields.
//
// Those schemas let unknown fields through (the API server drops them, at most warning), so a
// misspelt optional field such as `minAvailabel` would pass unnoticed. The schema validators read
// every field they know while validating, so each object is validated through a proxy that notes
// the fields read; a field no validator read is unknown. (A free-form field, such as a CRD's
// x-kubernetes-preserve-unknown-fields, would have its contents reported as unknown: none of
// these manifests has one.)
//
// And the gateway's image must carry the version in pom.xml, the tag that `docker build` (as
// README.md gives it) and `mvn -Pimage` put on it.
//
//   node check.mjs TOOLS_DIR POM_XML FILE.yaml...   (FILE - is standard input, e.g. kustomize's output)
//
// TOOLS_DIR holds node_modules with kubernetes-models and yaml.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [tools, pomFile, ...files] = process.argv.slice(2);
if (!tools || !pomFile || files.length === 0) {
  console.error('usage: node check.mjs TOOLS_DIR POM_XML FILE.yaml...');
  process.exit(2);
}
const requireTool = createRequire(path.join(path.resolve(tools), 'node_modules', '.check'));
const YAML = requireTool('yaml');
const modelsVersion = requireTool('kubernetes-models/package.json').version;

const GATEWAY_IMAGE = 'unbroken';
const problems = [];
let validated = 0;

const pom = readFileSync(pomFile, 'utf8');
const pomVersion = /<artifactId>unbroken<\/artifactId>\s*<version>([^<]+)<\/version>/.exec(pom)?.[1];
if (!pomVersion) {
  problems.push(`${pomFile}: no <version> after <artifactId>unbroken</artifactId>`);
}
let gatewayImages = 0;

for (const file of files) {
  const documents = YAML.parseAllDocuments(readFileSync(file === '-' ? 0 : file, 'utf8'));
  documents.forEach((document, index) => {
    const where = `${file === '-' ? 'standard input' : file} document ${index + 1}`;
    if (document.errors.length > 0) {
      problems.push(`${where}: not valid YAML: ${document.errors.map((e) => e.message).join('; ')}`);
      return;
    }
    const object = document.toJS();
    if (object === null || object === undefined) {
      return; // an empty document, e.g. after a trailing ---
    }
    const name = `${where} (${object.kind ?? '?'}/${object.metadata?.name ?? '?'})`;
    const model = modelFor(object, name);
    if (!model) {
      return;
    }
    const fields = [];
    const before = problems.length;
    try {
      model.prototype.validate.call(watched(object, '', fields));
    } catch (e) {
      problems.push(`${name}: ${e.message}`);
    }
    const unread = fields.filter((field) => !field.read).map((field) => field.path);
    // an unknown field's own fields are not named again
    const unknown = unread.filter((field) => !unread.some((outer) => field.startsWith(`${outer}.`)
      || field.startsWith(`${outer}[`)));
    if (unknown.length > 0) {
      problems.push(`${name}: unknown field(s) ${unknown.join(', ')}`);
    }
    if (problems.length === before) {
      validated++;
    }
    checkGatewayImage(object, name);
  });
}

if (pomVersion && gatewayImages === 0) {
  problems.push(`no container runs the image ${GATEWAY_IMAGE}:${pomVersion}`);
}
if (problems.length > 0) {
  problems.forEach((problem) => console.error(problem));
  console.error(`k8s manifests: ${problems.length} problem(s); ${validated} object(s) valid`);
  process.exit(1);
}
console.log(`k8s manifests: ${validated} objects valid against the Kubernetes API schemas`
  + ` (kubernetes-models ${modelsVersion}); gateway image ${GATEWAY_IMAGE}:${pomVersion} as in pom.xml`);

/** The model class for an object's apiVersion and kind: kubernetes-models/<apiVersion> exports it by kind. */
function modelFor(object, name) {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    problems.push(`${name}: apiVersion and kind must both be strings`);
    return undefined;
  }
  let group;
  try {
    group = requireTool(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw e;
    }
    problems.push(`${name}: cannot validate: kubernetes-models has no apiVersion ${apiVersion}`);
    return undefined;
  }
  const model = group[kind];
  if (typeof model !== 'function' || typeof model.prototype.validate !== 'function') {
    problems.push(`${name}: cannot validate: kubernetes-models has no kind ${kind} in ${apiVersion}`);
    return undefined;
  }
  return model;
}

/**
 * A copy of value whose objects note in fields each of their keys and whether anything read it.
 * Arrays are copied as they are (their items watched), since they have no field names.
 */
function watched(value, at, fields) {
  if (Array.isArray(value)) {
    return value.map((item, index) => watched(item, `${at}[${index}]`, fields));
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const copy = {};
  const own = new Map();
  for (const [key, item] of Object.entries(value)) {
    copy[key] = watched(item, `${at}.${key}`, fields);
    const field = { path: `${at}.${key}`.slice(1), read: false };
    own.set(key, field);
    fields.push(field);
  }
  const note = (key) => {
    const field = own.get(key);
    if (field) {
      field.read = true;
    }
  };
  return new Proxy(copy, {
    get(target, key, receiver) {
      note(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      note(key);
      return Reflect.has(target, key);
    },
  });
}

/** Containers (Deployment, StatefulSet, ... templates, or a bare Pod) running the gateway image run the pom's version. */
function checkGatewayImage(object, name) {
  const pod = object.spec?.template?.spec ?? (object.kind === 'Pod' ? object.spec : undefined);
  const containers = [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])];
  for (const container of containers) {
    const image = String(container.image ?? '');
    const named = image.split('@')[0]; // a digest, if any, goes
    const tagAt = named.lastIndexOf(':');
    const repository = tagAt > named.lastIndexOf('/') ? named.slice(0, tagAt) : named; // not a registry's port
    if (repository !== GATEWAY_IMAGE && !repository.endsWith(`/${GATEWAY_IMAGE}`)) {
      continue;
    }
    gatewayImages++;
    if (pomVersion && image !== `${repository}:${pomVersion}`) {
      problems.push(`${name}: container ${container.name} runs ${image}, but pom.xml's version is ${pomVersion}`
        + ` (docker build -t ${GATEWAY_IMAGE}:${pomVersion} and mvn -Pimage build that tag)`);
    }
  }
}
