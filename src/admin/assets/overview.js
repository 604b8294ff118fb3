// triage System Overview: polls the status API every 2 s and updates the table in place;
// the Online/Drain/Halt buttons call the state API. Plain JavaScript, no dependencies.
// Text formats mirror src/admin/page.rs (state/health labels, durations, check results).
'use strict';
(function () {
  const root = document.getElementById('overview');
  const msg = document.getElementById('msg');
  const updated = document.getElementById('updated');
  const gw = document.getElementById('gw');
  const form = document.getElementById('auth');
  const authMsg = document.getElementById('auth-msg');
  const needsToken = document.body.dataset.auth === 'token';
  const KEY = 'triage-admin-token';
  let token = '';
  try { token = localStorage.getItem(KEY) || ''; } catch (e) { /* storage disabled */ }
  let busy = false;

  const STATES = { online: ['●', 'Online'], drain: ['◐', 'Drain'], halt: ['■', 'Halt'] };

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  function dur(s) {
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }

  function stateBadge(st) {
    const [icon, label] = STATES[st] || ['?', st];
    return '<span class="badge st-' + esc(st) + '"><span aria-hidden="true">' + icon +
      '</span> ' + esc(label) + '</span>';
  }

  function healthBadge(up) {
    return up
      ? '<span class="badge hl-up"><span aria-hidden="true">▲</span> UP</span>'
      : '<span class="badge hl-down"><span aria-hidden="true">▼</span> DOWN</span>';
  }

  function checkText(c) {
    if (!c) return '<span class="muted">— not checked yet</span>';
    return '<span class="' + (c.ok ? 'ck-ok' : 'ck-fail') + '"><span aria-hidden="true">' +
      (c.ok ? '✓' : '✗') + '</span> ' + (c.ok ? 'ok' : 'failed') + ':</span> ' +
      esc(c.detail) + ' <span class="muted">· ' + c.rtt_ms + ' ms · ' + dur(c.age_s || 0) + ' ago</span>';
  }

  // Same recipe as Status::layout_signature in src/admin/model.rs.
  function signature(st) {
    const svcs = st.services.map((s) => s.name + '>' + s.pool).join(';');
    const pools = st.pools.map((p) => p.name + ':' + p.servers.map((s) => s.name).join(',')).join(';');
    return svcs + '|' + pools;
  }

  function say(text, isError) {
    msg.textContent = text;
    msg.className = isError ? 'error' : 'info';
  }

  function askToken(why) {
    token = '';
    try { localStorage.removeItem(KEY); } catch (e) { /* ignore */ }
    form.hidden = false;
    authMsg.textContent = why;
    document.getElementById('token-input').focus();
  }

  async function call(method, path, body) {
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 401) {
      askToken(token ? 'The token was refused.' : 'This admin API needs its token.');
      throw new Error('not authorized');
    }
    const type = r.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await r.json() : await r.text();
    if (!r.ok) {
      const why = (data && (data.error || (data.errors || []).join('; '))) || ('HTTP ' + r.status);
      throw new Error(why);
    }
    return data;
  }

  function set(el, field, html) {
    const cell = el.querySelector('[data-f="' + field + '"]');
    if (cell && cell.innerHTML !== html) cell.innerHTML = html;
  }

  function updateServer(pool, s) {
    const sel = 'tr.srv[data-pool="' + CSS.escape(pool) + '"][data-server="' + CSS.escape(s.name) + '"]:not(.fallback)';
    for (const row of root.querySelectorAll(sel)) {
      row.dataset.state = s.state;
      row.dataset.health = s.healthy ? 'up' : 'down';
      set(row, 'state', stateBadge(s.state));
      set(row, 'health', healthBadge(s.healthy));
      set(row, 'check', checkText(s.last_check));
      set(row, 'flip', dur(s.since_flip_s || 0));
      set(row, 'weight', String(s.weight));
      set(row, 'active', String(s.active));
      set(row, 'total', String(s.total));
      for (const b of row.querySelectorAll('button[data-act]')) {
        const current = b.dataset.act === s.state;
        b.disabled = current;
        b.setAttribute('aria-pressed', String(current));
      }
    }
  }

  function updateFallback(pool, f) {
    const sel = 'tr.srv.fallback[data-pool="' + CSS.escape(pool) + '"]';
    for (const row of root.querySelectorAll(sel)) {
      set(row, 'active', String(f.active));
      set(row, 'total', String(f.total));
    }
  }

  async function loadTable() {
    root.innerHTML = await call('GET', 'api/v1/overview');
  }

  async function refresh() {
    if (busy || (needsToken && !token)) return;
    busy = true;
    try {
      const st = await call('GET', 'api/v1/status');
      const table = root.querySelector('table.ov');
      if (!table || table.dataset.sig !== signature(st)) await loadTable();
      for (const svc of st.services) {
        const body = root.querySelector('tbody.svc[data-service="' + CSS.escape(svc.name) + '"]');
        if (!body) continue;
        set(body, 'protocol', esc(svc.protocol.toUpperCase()));
        set(body, 'listen', esc(svc.listen.join(', ')));
        set(body, 'connections', String(svc.connections));
        set(body, 'connections_total', String(svc.connections_total));
      }
      for (const p of st.pools) {
        for (const s of p.servers) updateServer(p.name, s);
        if (p.fallback) updateFallback(p.name, p.fallback);
      }
      const g = st.gateway || {};
      gw.textContent = 'triage ' + g.version + ' · config ' + g.config + ' · up ' + dur(g.uptime_s || 0);
      updated.textContent = '· updated ' + new Date().toLocaleTimeString();
      updated.classList.remove('stale');
      form.hidden = true;
      if (msg.dataset.lost) { say('', false); delete msg.dataset.lost; }
    } catch (e) {
      if (e.message !== 'not authorized') {
        updated.textContent = '· not updated: ' + e.message;
        updated.classList.add('stale');
        msg.dataset.lost = '1';
      }
    } finally {
      busy = false;
    }
  }

  root.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-act]');
    if (!b) return;
    const row = b.closest('tr.srv');
    const pool = row.dataset.pool, server = row.dataset.server, state = b.dataset.act;
    for (const x of row.querySelectorAll('button[data-act]')) x.disabled = true;
    try {
      const path = 'api/v1/pools/' + encodeURIComponent(pool) + '/servers/' +
        encodeURIComponent(server) + '/state';
      const r = await call('PUT', path, { state });
      updateServer(r.pool, r.server);
      say(pool + ' / ' + server + ': ' + r.previous + ' → ' + r.server.state, false);
    } catch (e) {
      say('Could not set ' + pool + ' / ' + server + ' to ' + state + ': ' + e.message, true);
      refresh();
    }
  });

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = document.getElementById('token-input').value.trim();
    try { localStorage.setItem(KEY, token); } catch (e) { /* ignore */ }
    authMsg.textContent = '';
    refresh();
  });

  if (needsToken && !token) askToken('This admin API needs its token.');
  refresh();
  setInterval(refresh, 2000);
})();
