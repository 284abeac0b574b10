// What the stdin-driven Helia reference peers (helia-peer.mjs, helia-ipns.mjs) share: the
// Node 20 polyfill, exit and argument helpers, and a node's lifecycle (a time limit,
// signals, and the check of its listen addresses: loopback TCP, or the lab's).

// Node 20 lacks Promise.withResolvers (ES2024), which current libp2p/Helia packages use.
// (Imported before any of them: static imports are evaluated first.)
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

/** A `die(code, msg)` that prefixes messages with the script's name. */
export function dier (script) {
  return (code, msg) => {
    process.stderr.write(`${script}: ${msg}\n`)
    process.exit(code)
  }
}

/** `--seconds` checked: an integer 1..3600. */
export function secondsArg (value, die) {
  const s = Number(value)
  if (!Number.isInteger(s) || s < 1 || s > 3600) die(2, '--seconds must be 1..3600')
  return s
}

/** One JSON line on stdout. */
export const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n')

/** An error as text, with its class name when it has one (e.g. `RecordExpiredError: ...`). */
export const errText = (e) => (e?.name && e.name !== 'Error' ? `${e.name}: ` : '') + String(e?.message ?? e)

const LOOPBACK_TCP = /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/

/**
 * Starts `helia` (then `afterStart`, if given); the process ends after `seconds` or on
 * SIGTERM/SIGINT, stopping Helia first. Every listen address must match `listen` (default:
 * loopback TCP), or the peer reports the failure and exits 1. Answers `{ stop, addrs }`.
 */
export async function run (helia, { seconds, log, afterStart, listen = LOOPBACK_TCP }) {
  let stopping = false
  async function stop (code) {
    if (stopping) return
    stopping = true
    try { await helia.stop() } catch {}
    process.exit(code)
  }
  setTimeout(() => { log(`time limit (${seconds} s) reached`); stop(0) }, seconds * 1000).unref()
  process.on('SIGTERM', () => stop(0))
  process.on('SIGINT', () => stop(0))
  try {
    await helia.start()
    if (afterStart) await afterStart()
  } catch (e) {
    emit({ ok: false, error: `start: ${errText(e)}` })
    process.exit(1)
  }
  const addrs = helia.libp2p.getMultiaddrs().map(String)
  if (addrs.length === 0 || !addrs.every(a => listen.test(a.replace(/\/p2p\/\w+$/, '')))) {
    emit({ ok: false, error: `listen addresses outside ${listen}: ${addrs}` })
    await stop(1)
  }
  return { stop, addrs }
}
