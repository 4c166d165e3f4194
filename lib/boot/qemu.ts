// QEMU for boot checks: the command line (pure) and a runner that watches the
// serial console for a marker and kills the VM at a deadline. Always TCG:
// KVM is not usable on the machines this runs on.
import { $ } from '../core/exec.ts';
import { ConsoleDecoder, stripEscapes } from './console.ts';
import { type BootEnd, failureReason } from './verdict.ts';
import type { Arch } from '../core/arch.ts';
import { BOOT_ARCHES } from './arch.ts';

export type BootMedia = 'virtio' | 'nvdimm';

interface QemuPlan {
  kernel: string;
  append: string;
  initrd?: string;
  /** Disk image attached as virtio-blk or as an NVDIMM. */
  image?: { path: string; bytes: number; media: BootMedia };
  memoryMiB?: number;
  /** Guest architecture (default x86_64): machine, CPU and QEMU binary from lib/boot/arch.ts. */
  arch?: Arch;
}

/** QEMU arguments: serial console on stdio, no display, no reboot. */
export function qemuArgs(plan: QemuPlan): string[] {
  const mem = plan.memoryMiB ?? 1024;
  const arch = BOOT_ARCHES[plan.arch ?? 'x86_64'];
  const args = ['-accel', 'tcg', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio'];
  if (plan.image?.media === 'nvdimm') {
    if (!arch.nvdimmMachine) throw new Error(`no NVDIMM on ${arch.qemu}'s machine`);
    args.push(
      ...arch.nvdimmMachine,
      '-m', `${mem}M,slots=2,maxmem=${mem + 4096}M`,
      '-object', `memory-backend-file,id=mem0,share=off,mem-path=${plan.image.path},size=${plan.image.bytes}`,
      '-device', 'nvdimm,memdev=mem0,id=nv0',
    );
  } else {
    args.push(...arch.machine, '-m', `${mem}M`);
    if (plan.image) {
      // An explicit device, not if=virtio: QEMU creates if=virtio disks after
      // every -device, and the runtime's extension disks come after the base.
      const device = plan.arch === 's390x' ? 'virtio-blk-ccw' : 'virtio-blk-pci';
      args.push('-drive', `id=rootfs,file=${plan.image.path},if=none,format=raw,readonly=on`, '-device', `${device},drive=rootfs`);
    }
  }
  args.push('-kernel', plan.kernel, '-append', plan.append);
  if (plan.initrd) args.push('-initrd', plan.initrd);
  return args;
}

interface QemuRun {
  markerSeen: boolean;
  /** Plain text: LF line ends, no escape codes. */
  console: string;
  /** Seconds from start to the marker, or to the end of the run without it. */
  seconds: number;
  /** Without the marker: why the run ended, in one line. */
  reason?: string;
}

/** After the marker, how long the guest may take to power itself off. */
const POWEROFF_GRACE_MS = 5000;
/** After a fatal console line, how long to keep collecting output. */
const FAILURE_GRACE_MS = 2000;

/** Run QEMU until it exits, or until the timeout (then it is killed). */
export async function runQemu(
  args: string[],
  opts: {
    marker: string;
    timeoutSeconds: number;
    /** Console lines after which the marker can no longer come: stop early. */
    failOn?: RegExp[];
    onConsole?: (chunk: string) => void;
    /** The QEMU binary (default qemu-system-x86_64). */
    qemu?: string;
  },
): Promise<QemuRun> {
  const start = Date.now();
  let console = '';
  let markerAt: number | undefined;
  const proc = $({ nothrow: true, quiet: true })`exec ${opts.qemu ?? 'qemu-system-x86_64'} ${args}`;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => void proc.kill('SIGKILL').catch(() => {}), ms);
  };
  arm(opts.timeoutSeconds * 1000);
  let fatalLine: string | undefined;
  let timedOut = false;
  const decoder = new ConsoleDecoder();
  const onText = (text: string) => {
    if (!text) return;
    console += text;
    opts.onConsole?.(text);
    if (markerAt === undefined && console.includes(opts.marker)) {
      markerAt = Date.now();
      arm(POWEROFF_GRACE_MS);
    } else if (markerAt === undefined && fatalLine === undefined) {
      const recent = console.slice(-(text.length + 100));
      const re = opts.failOn?.find((r) => r.test(recent));
      if (re) {
        fatalLine = recent.split('\n').find((l) => re.test(l))?.trim() ?? re.source;
        arm(FAILURE_GRACE_MS);
      }
    }
  };
  proc.stdout.on('data', (chunk: Buffer) => onText(decoder.push(chunk)));
  const deadline = setTimeout(() => { timedOut = true; }, opts.timeoutSeconds * 1000);
  const result = await proc;
  onText(decoder.end());
  clearTimeout(timer);
  clearTimeout(deadline);
  const stderr = result.stderr.trim();
  if (stderr) console += `\n[qemu] ${stderr}\n`;
  const end: BootEnd = { fatalLine, timedOut: timedOut && !fatalLine, exitCode: result.exitCode, stderr, timeoutSeconds: opts.timeoutSeconds };
  return {
    markerSeen: markerAt !== undefined,
    console: stripEscapes(console),
    seconds: ((markerAt ?? Date.now()) - start) / 1000,
    reason: markerAt === undefined ? failureReason(end) : undefined,
  };
}
