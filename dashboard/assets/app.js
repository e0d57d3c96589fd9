// Fusebox dashboard: keeps a copy of the server's status, fed by the
// event stream (a full "status" on connect, "update" messages after), and
// renders it. No dependencies; the sparklines are SVG polylines.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'fusebox.dashboard.token';
  const BREAKER_STATES = ['closed', 'open', 'half-open', 'forced-open', 'disabled', 'metrics-only'];
  const SEVERITY = { 'forced-open': 0, open: 1, full: 2, 'half-open': 3, limiting: 4, busy: 5 };

  const $ = (id) => document.getElementById(id);
  const model = {
    actions: false,
    historySize: 120,
    timelineSize: 200,
    order: [], // policy names, in the server's order
    policies: new Map(), // name -> PolicyStatus, history merged
    timeline: [], // Change, oldest first
    eventsDropped: 0, // events the server's subscription lost
    skew: 0, // server time - browser time, ms
    stateFilter: '',
  };
  const cards = new Map(); // name -> card elements

  // ---------- formatting ----------

  function fmtRate(x) {
    if (x == null) return '–';
    if (x === 0) return '0';
    if (x >= 1000) return (x / 1000).toFixed(x >= 10000 ? 0 : 1) + 'k';
    if (x >= 100) return x.toFixed(0);
    if (x >= 10) return x.toFixed(1);
    return x.toFixed(2).replace(/\.?0+$/, '') || '0';
  }
  function fmtCount(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(0) + 'k';
    return String(n);
  }
  function fmtPct(f) {
    if (f == null) return '–';
    const p = f * 100;
    if (p === 0) return '0%';
    if (p < 1) return p.toFixed(1) + '%';
    return p.toFixed(0) + '%';
  }
  // ns -> text
  function fmtDur(ns) {
    if (!ns) return '–';
    const ms = ns / 1e6;
    if (ms < 1) return (ns / 1e3).toFixed(0) + 'µs';
    if (ms < 10) return ms.toFixed(1) + 'ms';
    if (ms < 1000) return ms.toFixed(0) + 'ms';
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + 's';
  }
  function fmtAge(ms) {
    let s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    let m = Math.floor(s / 60);
    s %= 60;
    if (m < 60) return m + 'm ' + s + 's';
    const h = Math.floor(m / 60);
    m %= 60;
    if (h < 48) return h + 'h ' + m + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  function fmtClock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return '';
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }
  const serverNow = () => Date.now() + model.skew;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }

  // ---------- model ----------

  function applyFull(st) {
    model.actions = !!st.actions;
    model.historySize = st.historySize || model.historySize;
    model.skew = Date.parse(st.time) - Date.now();
    model.policies = new Map();
    model.order = [];
    for (const p of st.policies || []) {
      p.history = (p.history || []).slice(-model.historySize);
      model.policies.set(p.name, p);
      model.order.push(p.name);
    }
    model.timeline = (st.timeline || []).slice();
    model.eventsDropped = st.eventsDropped || 0;
    render();
  }

  function applyUpdate(st) {
    model.skew = Date.parse(st.time) - Date.now();
    const next = new Map();
    model.order = [];
    for (const p of st.policies || []) {
      const old = model.policies.get(p.name);
      const hist = old ? old.history.concat(p.history || []) : p.history || [];
      p.history = hist.length > model.historySize ? hist.slice(-model.historySize) : hist;
      next.set(p.name, p);
      model.order.push(p.name);
    }
    model.policies = next;
    if (st.timeline && st.timeline.length) {
      const seen = new Set(model.timeline.map((c) => c.id));
      for (const c of st.timeline) if (!seen.has(c.id)) model.timeline.push(c);
      if (model.timeline.length > model.timelineSize) model.timeline = model.timeline.slice(-model.timelineSize);
    }
    model.eventsDropped = st.eventsDropped || 0;
    render();
  }

  // ---------- sparklines ----------

  function makeSpark(label, series) {
    const wrap = el('div', 'spark');
    const lab = el('div', 'spark-label');
    const name = el('span', null, label);
    const max = el('span');
    lab.append(name, max);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 100 30');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    const lines = series.map((cls) => {
      const area = document.createElementNS(SVG, 'polygon');
      area.setAttribute('class', cls);
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('class', cls);
      svg.append(area, line);
      return { area, line };
    });
    wrap.append(lab, svg);
    return { wrap, max, lines };
  }

  // drawSpark draws each series of values (newest last, right-aligned on a
  // full-history axis) on one shared scale.
  function drawSpark(sp, seriesValues, fmtMax) {
    const n = model.historySize;
    let top = 0;
    for (const vs of seriesValues) for (const v of vs) if (v > top) top = v;
    setText(sp.max, top > 0 ? 'max ' + fmtMax(top) : '');
    const scale = top > 0 ? 27 / top : 0;
    const step = 100 / Math.max(1, n - 1);
    seriesValues.forEach((vs, k) => {
      const { area, line } = sp.lines[k];
      if (vs.length === 0) {
        line.setAttribute('points', '');
        area.setAttribute('points', '');
        return;
      }
      const x0 = 100 - (vs.length - 1) * step;
      let pts = '';
      for (let i = 0; i < vs.length; i++) {
        pts += (x0 + i * step).toFixed(2) + ',' + (29 - vs[i] * scale).toFixed(2) + ' ';
      }
      if (vs.length === 1) pts += '100,' + (29 - vs[0] * scale).toFixed(2);
      line.setAttribute('points', pts.trim());
      area.setAttribute('points', x0.toFixed(2) + ',30 ' + pts.trim() + ' 100,30');
    });
  }

  // ---------- cards ----------

  function metric(label) {
    const d = el('div');
    const dt = el('dt', null, label);
    const dd = el('dd', 'na', '–');
    d.append(dt, dd);
    return { d, dd };
  }

  function makeCard(name) {
    const card = el('article', 'card');
    card.dataset.name = name;
    const head = el('div', 'card-head');
    const title = el('h3', null, name);
    title.title = name;
    const state = el('span', 'state');
    head.append(title, state);
    const meta = el('div', 'meta');
    const kind = el('span', 'kind');
    const since = el('span', 'since');
    meta.append(kind, since);
    const dl = el('dl', 'metrics');
    const m = {
      rate: metric('calls/s'),
      err: metric('errors'),
      slow: metric('slow'),
      rej: metric('rejected/s'),
      p50: metric('p50'),
      p90: metric('p90'),
      p99: metric('p99'),
    };
    for (const k of Object.keys(m)) dl.append(m[k].d);
    const sparks = el('div', 'sparks');
    const traffic = makeSpark('calls/s · rejected/s', ['s-rate', 's-rej']);
    traffic.wrap.classList.add('wide');
    const errors = makeSpark('errors · slow', ['s-err', 's-slow']);
    const latency = makeSpark('p99', ['s-lat']);
    sparks.append(traffic.wrap, errors.wrap, latency.wrap);
    const detail = el('p', 'detail');
    const actions = el('div', 'actions');
    actions.hidden = true;
    card.append(head, meta, dl, sparks, detail, actions);
    const c = { card, kind, state, since, m, traffic, errors, latency, detail, actions, actionsKey: '' };
    cards.set(name, c);
    return c;
  }

  function setMetric(mm, text, cls) {
    setText(mm.dd, text);
    const want = cls || (text === '–' ? 'na' : '');
    if (mm.dd.className !== want) mm.dd.className = want;
  }

  function updateCard(c, p) {
    c.card.dataset.kind = p.kind;
    c.card.dataset.state = p.state || 'none';
    setText(c.kind, p.kind);
    setText(c.state, p.state || 'n/a');
    c.state.hidden = !p.state;
    const counted = p.kind !== 'other';
    const hasFailures = ['breaker', 'pool', 'retry', 'timeout', 'fallback', 'cache', 'latency'].includes(p.kind);
    const hasCalls = counted && p.kind !== 'budget';
    const hasRej = ['breaker', 'bulkhead', 'pool', 'ratelimit', 'retry', 'budget', 'hedge'].includes(p.kind);
    setMetric(c.m.rate, hasCalls ? fmtRate(p.rate) : '–');
    setMetric(c.m.err, hasFailures ? fmtPct(p.errorRate) : '–', hasFailures && p.errorRate >= 0.05 ? 'bad' : '');
    setMetric(c.m.slow, p.kind === 'breaker' ? fmtPct(p.slowRate) : '–');
    setMetric(c.m.rej, hasRej ? fmtRate(p.rejectRate) : '–', p.rejectRate > 0 ? 'bad' : '');
    const lat = p.latency;
    setMetric(c.m.p50, lat ? fmtDur(lat.p50) : '–');
    setMetric(c.m.p90, lat ? fmtDur(lat.p90) : '–');
    setMetric(c.m.p99, lat ? fmtDur(lat.p99) : '–');
    c.m.p50.d.hidden = c.m.p90.d.hidden = c.m.p99.d.hidden = !lat;

    const h = p.history || [];
    drawSpark(c.traffic, [h.map((q) => q.rate), h.map((q) => q.rej)], (v) => fmtRate(v) + '/s');
    drawSpark(c.errors, [h.map((q) => q.err), h.map((q) => q.slow)], fmtPct);
    c.errors.wrap.hidden = !hasFailures;
    drawSpark(c.latency, [h.map((q) => (q.p99 || 0) / 1e6)], (v) => fmtDur(v * 1e6));
    c.latency.wrap.hidden = !lat;
    // The second row of sparklines: one alone takes the whole width.
    c.errors.wrap.classList.toggle('wide', !lat);
    c.latency.wrap.classList.toggle('wide', !hasFailures);
    const total = hasCalls ? fmtCount(p.calls) + ' calls' : '';
    setText(c.detail, [total, p.detail].filter(Boolean).join(' · '));
    updateSince(c, p);
    updateActions(c, p);
  }

  function updateSince(c, p) {
    let text = '';
    if (p.since) {
      text = 'for ' + fmtAge(serverNow() - Date.parse(p.since));
      if (p.reason) text += ' · ' + p.reason;
      if (p.state === 'open' && p.retryAfter) {
        const left = p.retryAfter / 1e6 - (Date.now() - (p._received || Date.now()));
        text += left > 0 ? ' · probe in ' + fmtAge(left + 999) : ' · probe due';
      }
    }
    setText(c.since, text);
  }

  function updateActions(c, p) {
    const show = model.actions && !!token() && Array.isArray(p.actions) && p.actions.length > 0;
    const key = show ? p.actions.join(',') : '';
    c.actions.hidden = !show;
    if (key === c.actionsKey) return;
    c.actionsKey = key;
    c.actions.replaceChildren();
    if (!show) return;
    const labels = { 'force-open': 'Force open', reset: 'Reset', disable: 'Disable' };
    for (const a of p.actions) {
      const b = el('button', a === 'reset' ? '' : 'danger', labels[a] || a);
      b.type = 'button';
      b.dataset.action = a;
      b.addEventListener('click', () => act(p.name, a, b));
      c.actions.append(b);
    }
  }

  // ---------- rendering ----------

  function matches(p, q) {
    if (model.stateFilter && p.state !== model.stateFilter) return false;
    if (!q) return true;
    return (p.name + ' ' + p.kind + ' ' + (p.state || '')).toLowerCase().includes(q);
  }

  function render() {
    const grid = $('grid');
    const q = $('filter').value.trim().toLowerCase();
    let names = model.order.slice();
    if ($('problems').checked) {
      const sev = (n) => {
        const s = SEVERITY[model.policies.get(n).state];
        return s == null ? 99 : s;
      };
      names = names.map((n, i) => [n, i]).sort((a, b) => sev(a[0]) - sev(b[0]) || a[1] - b[1]).map((x) => x[0]);
    }
    const now = Date.now();
    let prev = null;
    for (const name of names) {
      const p = model.policies.get(name);
      p._received = p._received || now;
      const c = cards.get(name) || makeCard(name);
      updateCard(c, p);
      c.card.hidden = !matches(p, q);
      // Keep DOM order equal to names without touching cards in place.
      const want = prev ? prev.nextSibling : grid.firstChild;
      if (want !== c.card) grid.insertBefore(c.card, want);
      prev = c.card;
    }
    for (const [name, c] of cards) {
      if (!model.policies.has(name)) {
        c.card.remove();
        cards.delete(name);
      }
    }
    $('empty').hidden = model.order.length > 0;
    if (model.order.length === 0) grid.append($('empty'));
    renderSummary();
    renderTimeline();
    renderLost();
    renderAuth();
  }

  function renderSummary() {
    const counts = new Map();
    for (const p of model.policies.values()) {
      if (p.kind !== 'breaker') continue;
      counts.set(p.state, (counts.get(p.state) || 0) + 1);
    }
    const box = $('summary');
    box.replaceChildren();
    for (const s of BREAKER_STATES) {
      const n = counts.get(s);
      if (!n) continue;
      const chip = el('button', 'chip', n + ' ' + s);
      chip.type = 'button';
      chip.dataset.state = s;
      chip.setAttribute('aria-pressed', String(model.stateFilter === s));
      chip.title = 'Show only ' + s + ' breakers';
      chip.addEventListener('click', () => {
        model.stateFilter = model.stateFilter === s ? '' : s;
        render();
      });
      box.append(chip);
    }
  }

  function tag(state) {
    const t = el('span', 'tag', state || '?');
    t.dataset.state = state || 'none';
    return t;
  }

  let timelineKey = '';
  function renderTimeline() {
    const list = model.timeline;
    const key = list.length ? list[list.length - 1].id + ':' + list.length : '';
    if (key === timelineKey) return;
    timelineKey = key;
    const ol = $('timeline');
    ol.replaceChildren();
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i];
      const li = el('li');
      const time = el('time', null, fmtClock(c.at));
      time.dateTime = c.at;
      const who = el('span', 'who', c.policy);
      const move = el('span', 'move');
      move.append(tag(c.from), document.createTextNode('→'), tag(c.to));
      li.append(time, who, move);
      if (c.reason) li.append(el('span', 'why', c.reason));
      ol.append(li);
    }
    $('timeline-empty').hidden = list.length > 0;
  }

  function renderLost() {
    const n = model.eventsDropped;
    const p = $('timeline-lost');
    p.hidden = !n;
    setText(p, n ? fmtCount(n) + (n === 1 ? ' event' : ' events') + ' lost: changes may be missing.' : '');
  }

  // ---------- operator actions ----------

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }
  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage disabled: actions stay locked */
    }
  }
  function authMsg(text, isError) {
    const m = $('auth-msg');
    m.textContent = text;
    m.className = 'auth-msg' + (isError ? ' error' : '');
  }

  function renderAuth() {
    $('auth').hidden = !model.actions;
    const unlocked = !!token();
    $('auth-form').hidden = unlocked;
    $('auth-on').hidden = !unlocked;
  }

  async function act(policy, action, button) {
    if (action !== 'reset' && !window.confirm(action.replace('-', ' ') + ' ' + policy + '?')) return;
    button.disabled = true;
    try {
      const res = await fetch('actions', {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + token(), 'Content-Type': 'application/json' },
        body: JSON.stringify({ policy, action }),
        credentials: 'omit',
        cache: 'no-store',
      });
      const body = await res.json().catch(() => ({}));
      if (res.status === 401 || res.status === 403) {
        setToken('');
        authMsg('The server refused the token; enter it again.', true);
        render();
        return;
      }
      if (!res.ok) {
        authMsg(action + ' ' + policy + ' failed: ' + (body.error || res.status), true);
        return;
      }
      authMsg(policy + ': ' + body.from + ' → ' + body.to, false);
    } catch (e) {
      authMsg(action + ' ' + policy + ' failed: ' + e, true);
    } finally {
      button.disabled = false;
    }
  }

  // ---------- wiring ----------

  function setConn(state, text) {
    $('conn').dataset.conn = state;
    setText($('conn-text'), text);
  }

  function connect() {
    if (!window.EventSource) {
      setConn('reconnecting', 'this browser has no EventSource');
      return;
    }
    const es = new EventSource('events');
    es.addEventListener('status', (e) => {
      applyFull(JSON.parse(e.data));
      setConn('live', 'live');
    });
    es.addEventListener('update', (e) => {
      applyUpdate(JSON.parse(e.data));
      setConn('live', 'live · ' + fmtClock(new Date(serverNow()).toISOString()));
    });
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED) {
        setConn('reconnecting', 'reconnecting…');
        return;
      }
      // The server refused the stream (too many open: 503; or no read
      // token: 401), and EventSource gives up on that: try again later.
      setConn('reconnecting', 'refused by the server; retrying…');
      setTimeout(connect, 5000 + Math.random() * 5000);
    });
  }

  function tick() {
    for (const [name, c] of cards) {
      const p = model.policies.get(name);
      if (p) updateSince(c, p);
    }
  }

  // A page opened as ?token=<read token> got its cookie with it: take the
  // token out of the address bar (and so out of bookmarks and shares).
  function dropTokenFromURL() {
    try {
      const u = new URL(window.location.href);
      if (!u.searchParams.has('token')) return;
      u.searchParams.delete('token');
      window.history.replaceState(window.history.state, '', u.pathname + u.search + u.hash);
    } catch {
      /* an odd URL: leave it */
    }
  }

  dropTokenFromURL();
  document.addEventListener('DOMContentLoaded', () => {
    $('filter').addEventListener('input', render);
    $('problems').addEventListener('change', render);
    $('auth-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const t = $('token').value.trim();
      $('token').value = '';
      if (!t) return;
      setToken(t);
      authMsg('', false);
      render();
    });
    $('lock').addEventListener('click', () => {
      setToken('');
      authMsg('', false);
      render();
    });
    connect();
    setInterval(tick, 1000);
  });
})();
