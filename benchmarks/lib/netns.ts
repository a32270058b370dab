import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A network namespace of the test's own, joined to this one by a veth pair: the host side has
 * `hostIp`, the namespace `nsIp` (a /24 of 10.77.x.0, x from the process id). Programs started with
 * `wrap` live inside it; `down`/`up` drop and restore its link (packets vanish silently; the host side
 * keeps its address, so everything else on this machine still reaches the server there).
 */
export interface TestNetns {
  name: string;
  /** The host side's interface (a server that must name one, e.g. Janus's ICE, uses it). */
  hostIf: string;
  hostIp: string;
  nsIp: string;
  /** An executable that runs `program` inside the namespace with the arguments it is given. */
  wrap(program: string): string;
  /** The link goes down (a phone's network changes: the browser notices and closes its connections). */
  down(): void;
  up(): void;
  /**
   * Everything between the two sides vanishes while the link stays up (a phone that loses its signal:
   * nothing tells the browser, its connections just stop hearing back).
   */
  silence(): void;
  unsilence(): void;
  /**
   * The namespace moves to another address (a phone from Wi-Fi to mobile data): the old one removed, the
   * new one added, so connections made from the old one hear nothing more. Returns the new address.
   */
  moveAddress(): string;
  /**
   * From now on the namespace sends nothing but TCP to these ports of the host side (and the answers
   * to what it is sent): no UDP at all, no other address (nftables inside the namespace).
   */
  onlyTcpTo(ports: Ports): void;
  /** The same with UDP ports too: what it may send to the host side, and nothing else. */
  onlyTo(allowed: { tcp?: Ports; udp?: Ports }): void;
  /**
   * Of the UDP this side sends, `pct` per cent is dropped at random (nftables' numgen: this kernel has no
   * netem); 0 takes the rule away.
   */
  dropUdp(pct: number): void;
  /** No rule any more: everything may go out. */
  openUp(): void;
  remove(): void;
}

type Ports = (number | `${number}-${number}`)[];

/** A locally administered hardware address that no interface here has. */
const NOBODY = '02:00:5e:00:de:ad';
const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });

export function createNetns(): TestNetns {
  const n = (process.pid % 200) + 20;
  const name = `hmc-test-${process.pid}`;
  const hostIf = `hv${process.pid}`.slice(0, 15);
  const nsIf = `nv${process.pid}`.slice(0, 15);
  const hostIp = `10.77.${n}.1`;
  const nsIp = `10.77.${n}.2`;
  // Left over from a run that was killed: gone first.
  try {
    ip('netns', 'del', name);
  } catch {
    /* none */
  }
  ip('netns', 'add', name);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', name);
  ip('addr', 'add', `${hostIp}/24`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/24`, 'dev', nsIf);
  ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netns-'));
  let current = nsIp;
  return {
    name,
    hostIf,
    hostIp,
    nsIp,
    wrap(program) {
      const file = path.join(dir, path.basename(program));
      fs.writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${name} ${program} "$@"\n`, { mode: 0o755 });
      return file;
    },
    // The host side goes down: this side keeps its address (everything else still reaches the server).
    down: () => ip('link', 'set', hostIf, 'down'),
    up: () => ip('link', 'set', hostIf, 'up'),
    // Each side sends to a hardware address nobody has: every frame is dropped on arrival, no link changes.
    silence() {
      ip('neigh', 'replace', nsIp, 'lladdr', NOBODY, 'nud', 'permanent', 'dev', hostIf);
      ip('netns', 'exec', name, 'ip', 'neigh', 'replace', hostIp, 'lladdr', NOBODY, 'nud', 'permanent', 'dev', nsIf);
    },
    unsilence() {
      ip('neigh', 'del', nsIp, 'dev', hostIf);
      ip('netns', 'exec', name, 'ip', 'neigh', 'del', hostIp, 'dev', nsIf);
    },
    moveAddress() {
      const next = current === nsIp ? `10.77.${n}.3` : nsIp;
      // Old one first: a second address of the same subnet is a secondary one, removed with the primary.
      ip('netns', 'exec', name, 'ip', 'addr', 'del', `${current}/24`, 'dev', nsIf);
      ip('netns', 'exec', name, 'ip', 'addr', 'add', `${next}/24`, 'dev', nsIf);
      current = next;
      return next;
    },
    onlyTcpTo(ports) {
      this.onlyTo({ tcp: ports });
    },
    onlyTo({ tcp = [], udp = [] }) {
      const rules = [
        'flush ruleset',
        'table inet reach {',
        '  chain out {',
        '    type filter hook output priority 0; policy drop;',
        '    oif "lo" accept',
        '    ct state established,related accept',
        ...(tcp.length ? [`    ip daddr ${hostIp} tcp dport { ${tcp.join(', ')} } accept`] : []),
        ...(udp.length ? [`    ip daddr ${hostIp} udp dport { ${udp.join(', ')} } accept`] : []),
        '  }',
        '}',
        '',
      ].join('\n');
      execFileSync('ip', ['netns', 'exec', name, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    dropUdp(pct) {
      const rules = pct
        ? [
            'flush ruleset',
            'table inet loss {',
            '  chain out {',
            '    type filter hook output priority 0; policy accept;',
            `    meta l4proto udp numgen random mod 1000 < ${Math.round(pct * 10)} drop`,
            '  }',
            '}',
            '',
          ].join('\n')
        : 'flush ruleset\n';
      execFileSync('ip', ['netns', 'exec', name, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    openUp() {
      execFileSync('ip', ['netns', 'exec', name, 'nft', 'flush', 'ruleset'], { stdio: 'pipe' });
    },
    remove() {
      try {
        ip('netns', 'del', name); // the veth pair goes with it
      } catch {
        /* already gone */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
