// The perpnode status page: everything over the node's own WebSocket (ws://<host>/ws), plus
// GET /ready for the mode, halt reason and peers. Refreshes on every new head; order books and
// trades also update between blocks through their subscriptions. No build step, no libraries.
'use strict';
const $ = (id) => document.getElementById(id);
const short = (h) => (h && h.length > 18 ? h.slice(0, 10) + '…' + h.slice(-6) : String(h ?? ''));
// Units (docs/rpc.md): sizes and prices 1e-8, collateral 1e-6 (USDC), fractions 1e-9.
const units = (s, d, digits) => {
  if (s === null || s === undefined) return '–';
  const n = BigInt(s), neg = n < 0n, a = neg ? -n : n, base = 10n ** BigInt(d);
  const frac = (a % base).toString().padStart(d, '0').slice(0, digits);
  return (neg ? '-' : '') + (a / base).toLocaleString('en-US') + (digits ? '.' + frac : '');
};
const px = (s) => units(s, 8, 2), sz = (s) => units(s, 8, 4), usdc = (s) => units(s, 6, 2);
const pct = (s) => (s === undefined ? '–' : ((Number(s) / 1e9) * 100).toFixed(4) + ' %');
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function rows(tbody, list) {
  tbody.replaceChildren(...list.map((cells) => {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? c : el('td', String(c)));
    return tr;
  }));
}
const td = (t, cls) => el('td', String(t), cls);
const badge = (node, text, cls) => { node.textContent = text; node.className = 'badge ' + cls; };

let ws, nextId = 1;
const pending = new Map();
const subs = new Map(); // subscription id -> handler
let markets = [];
const books = new Map(); // market -> { bids, asks, mark_price }
const trades = new Map(); // market -> recent trades, newest first
const blocks = []; // newest first
let refreshing = false, again = false, latest = -1; // latest: the newest head number announced

function call(method, params) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

async function subscribe(method, params, handler) {
  const id = await call(method, params);
  subs.set(String(id), handler);
}

function connect() {
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.onopen = start;
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id !== undefined && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      m.error ? p.reject(new Error(m.error.message)) : p.resolve(m.result);
    } else if (m.params && subs.has(String(m.params.subscription_id))) subs.get(String(m.params.subscription_id))(m.params.result, m.method);
  };
  ws.onclose = () => {
    badge($('conn'), 'disconnected: retrying', 'bad');
    for (const p of pending.values()) p.reject(new Error('connection closed'));
    pending.clear();
    subs.clear();
    setTimeout(connect, 1000);
  };
}

async function start() {
  badge($('conn'), 'live', 'ok');
  const cfg = await call('perp_getConfig', []);
  $('chain').textContent = cfg.chain_id_name;
  $('role').textContent = cfg.role;
  markets = cfg.markets.map((m) => m.symbol);
  blocks.length = 0;
  const head = await call('starknet_blockNumber', []);
  for (let n = Math.max(0, head - 7); n <= head; n++) await addBlock(n);
  await subscribe('starknet_subscribeNewHeads', {}, (h, method) => {
    if (method === 'starknet_subscriptionReorg') { blocks.length = 0; latest = -1; }
    refresh(h && h.block_number);
  });
  if (cfg.role === 'sequencer') {
    for (const m of markets) {
      trades.set(m, (await call('perp_getTrades', { market: m, limit: 10 })).slice().reverse());
      await subscribe('perp_subscribeOrderBook', { market: m, depth: 10 }, (b) => { books.set(m, b); renderBooks(); });
      await subscribe('perp_subscribeTrades', { market: m }, (t) => { trades.set(m, [t, ...(trades.get(m) || [])].slice(0, 10)); renderBooks(); });
    }
  }
  await refresh(head);
}

async function addBlock(n) {
  if (blocks.some((b) => b.block_number === n)) return;
  const [b, sig] = await Promise.all([call('starknet_getBlockWithTxHashes', { block_id: { block_number: n } }), call('perp_sequencerSignature', { block_id: { block_number: n } })]);
  blocks.push({ ...b, signature: sig.signature });
  blocks.sort((a, c) => c.block_number - a.block_number);
  blocks.length = Math.min(blocks.length, 8);
}

async function refresh(number) {
  if (typeof number === 'number') latest = Math.max(latest, number);
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    if (latest >= 0) {
      const top = blocks.length ? blocks[0].block_number : latest - 1;
      for (let n = Math.max(top + 1, latest - 7); n <= latest; n++) await addBlock(n);
    }
    const [mk, vault, ready] = await Promise.all([
      call('perp_getMarkets', []),
      call('perp_getVault', []).catch(() => null),
      fetch('/ready').then((r) => r.json()).catch(() => null),
    ]);
    renderHead();
    renderMarkets(mk);
    renderVault(vault);
    renderNode(ready);
    renderBooks();
  } finally {
    refreshing = false;
    if (again) { again = false; refresh(); }
  }
}

function renderHead() {
  const b = blocks[0];
  if (!b) return;
  $('head-number').textContent = b.block_number;
  rows($('head'), [
    [td('number'), td(b.block_number, 'mono')],
    [td('hash'), td(b.block_hash, 'mono')],
    [td('parent'), td(b.parent_hash, 'mono')],
    [td('state root'), td(b.new_root, 'mono')],
    [td('time'), td(new Date(b.timestamp * 1000).toISOString())],
    [td('transactions'), td(b.transactions.length)],
    [td('signature r'), td(b.signature[0], 'mono')],
    [td('signature s'), td(b.signature[1], 'mono')],
  ]);
  rows($('blocks'), blocks.map((x) => [td(x.block_number, 'n'), td(short(x.block_hash), 'mono'), td(x.transactions.length, 'n'), td(new Date(x.timestamp * 1000).toLocaleTimeString()), td(short(x.signature[0]) + ', ' + short(x.signature[1]), 'mono')]));
}

function renderMarkets(list) {
  rows($('markets'), list.map((m) => [td(m.symbol), td(px(m.mark_price), 'n'), td(pct(m.funding.rate), 'n'), td(m.funding.index, 'n mono'), td(sz(m.long_open_interest) + ' / ' + sz(m.short_open_interest), 'n'), td(m.holders, 'n')]));
}

function renderVault(v) {
  if (!v) return rows($('vault'), [[td('not available on this node', 'muted')]]);
  rows($('vault'), [
    [td('address'), td(v.address, 'mono')],
    [td('balance'), td(usdc(v.balance) + ' USDC')],
    [td('equity'), td(usdc(v.equity) + ' USDC')],
    [td('unrealized PnL'), td(usdc(v.unrealized_pnl) + ' USDC')],
    [td('refunds paid'), td(usdc(v.refunds_paid) + ' USDC')],
    [td('positions'), td(v.positions.length ? v.positions.map((p) => `${p.market} ${sz(p.size)}`).join(', ') : 'none')],
  ]);
}

function renderNode(r) {
  if (!r) return badge($('ready'), 'unknown', 'warn');
  badge($('ready'), r.ready ? 'ready' : 'not ready', r.ready ? 'ok' : 'bad');
  $('ready').title = r.reasons.join('; ');
  badge($('mode'), r.mode, r.mode === 'NORMAL' ? 'ok' : r.mode === 'HALTED' ? 'bad' : 'warn');
  const halt = $('halt');
  halt.style.display = r.halted ? 'block' : 'none';
  halt.textContent = r.halted ? 'HALTED: ' + r.halted : '';
  const peers = r.peers.length ? r.peers.map((p) => [td(short(p.id), 'mono'), td(p.role ?? '?'), td(p.head ?? '–', 'n'), td(p.lag ?? '–', 'n')]) : [[td(r.role === 'sequencer' ? 'no followers connected' : 'no peers', 'muted'), td(''), td(''), td('')]];
  rows($('peers'), peers);
}

function renderBooks() {
  const box = $('books');
  for (const m of markets) {
    let s = document.getElementById('book-' + m);
    if (!s) {
      s = el('section');
      s.id = 'book-' + m;
      s.append(el('h2', m + ': order book and last trades'), el('div', undefined, 'book'));
      box.append(s);
    }
    const b = books.get(m);
    const grid = s.querySelector('.book');
    const side = (list, cls, title) => {
      const t = el('table');
      t.append(el('thead'), el('tbody'));
      rows(t.tHead, [[el('th', title), el('th', 'price', 'n'), el('th', 'size', 'n')]]);
      rows(t.tBodies[0], (list || []).map(([p, q]) => [td(''), td(px(p), 'n ' + cls), td(sz(q), 'n')]));
      if (!list || !list.length) rows(t.tBodies[0], [[td('empty', 'muted'), td(''), td('')]]);
      return t;
    };
    const tt = el('table');
    tt.append(el('thead'), el('tbody'));
    rows(tt.tHead, [[el('th', 'last trades'), el('th', 'price', 'n'), el('th', 'size', 'n')]]);
    const tl = trades.get(m) || [];
    rows(tt.tBodies[0], tl.length ? tl.map((t) => [td(t.taker_side, t.taker_side === 'BUY' ? 'bid' : 'ask'), td(px(t.price), 'n'), td(sz(t.size), 'n')]) : [[td('none yet', 'muted'), td(''), td('')]]);
    grid.replaceChildren(side(b && b.bids, 'bid', 'bids'), side(b && b.asks, 'ask', 'asks'), tt);
  }
}

connect();
