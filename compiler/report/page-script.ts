// The script of the review page, inline (the page makes no request). It reads the report from the
// page's JSON block and builds every table with textContent, never innerHTML: names come from
// policy files and must not become markup. Tables are filtered, sorted and shown a page at a time,
// so 100,000 people stay usable; printing shows every filtered row up to PRINT_MAX.
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var PAGE = 100;
  var PRINT_MAX = 5000;
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var commits = data.commits, models = data.models, rules = data.rules, principals = data.principals, teams = data.teams;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function day(iso) { return iso ? iso.replace('T00:00:00.000Z', '').replace('.000Z', 'Z') : ''; }
  function short(id) { return id ? id.slice(0, 12) : ''; }
  function pr(c) { return c && c.pull_request ? '#' + c.pull_request.number : ''; }
  function approvers(c) { return c && c.pull_request ? c.pull_request.approvers.join(', ') : ''; }
  function teamName(i) { return i === undefined ? '' : teams[i].name; }
  function rowModels(g) { return g.models || rules[g.rule].models; }
  function has(text, needle) { return needle === '' || String(text).toLowerCase().indexOf(needle) >= 0; }

  var filters = { principal: '', team: '', model: '', account: '' };

  function principalMatches(p, viaTeam) {
    if (!has(p.name, filters.principal) && !has(p.id, filters.principal)) return false;
    if (filters.team === '') return true;
    if (viaTeam !== undefined && has(teams[viaTeam].name, filters.team)) return true;
    for (var t = 0; t < p.teams.length; t++) if (has(teams[p.teams[t]].name, filters.team)) return true;
    return false;
  }
  function modelMatches(m) { return has(m.fqn, filters.model) && has(m.account, filters.account); }
  function anyModel(list) {
    if (filters.model === '' && filters.account === '') return true;
    for (var i = 0; i < list.length; i++) if (modelMatches(models[list[i]])) return true;
    return false;
  }
  function fqnMatches(fqn) {
    var slash = fqn.indexOf('/');
    return has(fqn, filters.model) && has(slash < 0 ? fqn : fqn.slice(0, slash), filters.account);
  }
  var owners = new Map();
  principals.forEach(function (p) { owners.set((p.kind === 'service' ? 'service:' : '') + p.name, p); });
  function ownerMatches(text) {
    var p = owners.get(text);
    if (p) return principalMatches(p);
    return has(text, filters.principal) && filters.team === '';
  }

  // A table over row indices 0..count-1: columns give a value (for sorting and display).
  function Table(id, columns, count, matches) {
    var section = document.getElementById(id);
    if (!section) return null;
    var table = section.querySelector('table');
    var thead = table.querySelector('thead'), tbody = table.querySelector('tbody');
    var pager = section.querySelector('.pager');
    var state = { rows: [], sort: -1, dir: 1, page: 0, printing: false };
    var head = el('tr');
    columns.forEach(function (c, i) {
      var th = el('th');
      var button = el('button', c.title);
      button.type = 'button';
      button.addEventListener('click', function () {
        state.dir = state.sort === i ? -state.dir : 1;
        state.sort = i;
        sortRows();
        state.page = 0;
        render();
      });
      th.appendChild(button);
      th.setAttribute('aria-sort', 'none');
      head.appendChild(th);
    });
    thead.appendChild(head);
    function refilter() {
      var rows = [];
      for (var i = 0; i < count; i++) if (matches(i)) rows.push(i);
      state.rows = rows;
      if (state.sort >= 0) sortRows();
      state.page = 0;
      render();
    }
    function sortRows() {
      var value = columns[state.sort].value, dir = state.dir;
      var keys = new Map();
      state.rows.forEach(function (r) { keys.set(r, value(r)); });
      state.rows.sort(function (a, b) {
        var x = keys.get(a), y = keys.get(b);
        if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir || a - b;
        x = String(x); y = String(y);
        return (x < y ? -1 : x > y ? 1 : 0) * dir || a - b;
      });
      Array.prototype.forEach.call(head.children, function (th, i) {
        th.setAttribute('aria-sort', i === state.sort ? (dir > 0 ? 'ascending' : 'descending') : 'none');
      });
    }
    function render() {
      tbody.textContent = '';
      var all = state.printing && state.rows.length <= PRINT_MAX;
      var from = all ? 0 : state.page * PAGE;
      var to = all ? state.rows.length : Math.min(state.rows.length, from + PAGE);
      for (var k = from; k < to; k++) {
        var r = state.rows[k];
        var tr = el('tr');
        columns.forEach(function (c) {
          var td = el('td', c.show ? c.show(r) : c.value(r));
          if (c.cls) td.className = c.cls;
          tr.appendChild(td);
        });
        tbody.appendChild(tr);
      }
      pager.textContent = '';
      var pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
      var info = el('span', state.rows.length === 0 ? 'no rows' : 'rows ' + (from + 1) + '\u2013' + to + ' of ' + state.rows.length + (state.rows.length < count ? ' (filtered from ' + count + ')' : ''), 'count');
      pager.appendChild(info);
      if (!all && pages > 1) {
        var prev = el('button', '\u2190 previous'); prev.type = 'button'; prev.disabled = state.page === 0;
        prev.addEventListener('click', function () { state.page--; render(); });
        var next = el('button', 'next \u2192'); next.type = 'button'; next.disabled = state.page >= pages - 1;
        next.addEventListener('click', function () { state.page++; render(); });
        pager.appendChild(prev); pager.appendChild(el('span', 'page ' + (state.page + 1) + ' of ' + pages)); pager.appendChild(next);
      }
    }
    return { refilter: refilter, print: function (on) { state.printing = on; render(); } };
  }

  var tables = [];
  function add(t) { if (t) tables.push(t); }

  add(Table('grants', [
    { title: 'Principal', value: function (i) { return principals[data.grants[i].principal].name; } },
    { title: 'Kind', value: function (i) { return principals[data.grants[i].principal].kind; } },
    { title: 'Id', value: function (i) { return principals[data.grants[i].principal].id; }, cls: 'mono' },
    { title: 'Team', value: function (i) { return teamName(data.grants[i].via); } },
    { title: 'Models', value: function (i) { return rowModels(data.grants[i]).map(function (m) { return models[m].fqn; }).join(' '); }, cls: 'mono' },
    { title: 'Rule', value: function (i) { return rules[data.grants[i].rule].id; }, cls: 'mono' },
    { title: 'Source', value: function (i) { return rules[data.grants[i].rule].source; }, cls: 'mono' },
    { title: 'Description', value: function (i) { return rules[data.grants[i].rule].description || ''; } },
    { title: 'Expires', value: function (i) { return rules[data.grants[i].rule].expires || ''; }, show: function (i) { return day(rules[data.grants[i].rule].expires); } },
    { title: 'Since', value: function (i) { return commits[data.grants[i].since].date; }, show: function (i) { return day(commits[data.grants[i].since].date); } },
    { title: 'Commit', value: function (i) { return short(commits[data.grants[i].since].id) + ' ' + commits[data.grants[i].since].subject; } },
    { title: 'Pull request', value: function (i) { var c = commits[data.grants[i].since]; return c.pull_request ? c.pull_request.number : -1; }, show: function (i) { return pr(commits[data.grants[i].since]); } },
    { title: 'Approvers', value: function (i) { return approvers(commits[data.grants[i].since]); } }
  ], data.grants.length, function (i) {
    var g = data.grants[i];
    return principalMatches(principals[g.principal], g.via) && anyModel(rowModels(g));
  }));

  add(Table('models', [
    { title: 'Model', value: function (i) { return models[i].fqn; }, cls: 'mono' },
    { title: 'Account', value: function (i) { return models[i].account; } },
    { title: 'Enabled', value: function (i) { return models[i].enabled ? 'yes' : 'no'; } },
    { title: 'Principals', value: function (i) { return models[i].principals; }, cls: 'num' }
  ], models.length, function (i) { return modelMatches(models[i]); }));

  add(Table('keys', [
    { title: 'Key', value: function (i) { return data.keys[i].id; }, cls: 'mono' },
    { title: 'Owner', value: function (i) { return data.keys[i].principal; } },
    { title: 'Created', value: function (i) { return data.keys[i].created; }, show: function (i) { return day(data.keys[i].created); } },
    { title: 'Expires', value: function (i) { return data.keys[i].expires || ''; }, show: function (i) { return data.keys[i].expires ? day(data.keys[i].expires) : 'never'; } },
    { title: 'Status', value: function (i) { return data.keys[i].status; } },
    { title: 'Last used', value: function (i) { return data.keys[i].last_used || ''; }, show: function (i) { return data.keys[i].last_used ? day(data.keys[i].last_used) : (data.audit_logs ? 'not in the logs' : ''); } }
  ], data.keys.length, function (i) { return ownerMatches(data.keys[i].principal); }));

  if (data.changes) {
    var changes = data.changes.gained.map(function (c) { return ['gained', c]; }).concat(data.changes.lost.map(function (c) { return ['lost', c]; }));
    add(Table('changes', [
      { title: 'Change', value: function (i) { return changes[i][0]; } },
      { title: 'Principal', value: function (i) { return changes[i][1].name; } },
      { title: 'Kind', value: function (i) { return changes[i][1].kind; } },
      { title: 'Model', value: function (i) { return changes[i][1].model; }, cls: 'mono' },
      { title: 'By', value: function (i) { var c = changes[i][1]; return c.commit !== undefined ? short(commits[c.commit].id) + ' ' + commits[c.commit].subject : c.lapsed ? 'lapsed ' + day(c.lapsed) : ''; } },
      { title: 'Pull request', value: function (i) { var c = changes[i][1]; return c.commit !== undefined ? pr(commits[c.commit]) : ''; } },
      { title: 'Approvers', value: function (i) { var c = changes[i][1]; return c.commit !== undefined ? approvers(commits[c.commit]) : ''; } }
    ], changes.length, function (i) {
      var c = changes[i][1];
      return has(c.name, filters.principal) && fqnMatches(c.model);
    }));
  }

  if (data.unused) {
    add(Table('unused', [
      { title: 'Principal', value: function (i) { return principals[data.unused[i].principal].name; } },
      { title: 'Kind', value: function (i) { return principals[data.unused[i].principal].kind; } },
      { title: 'Model', value: function (i) { return models[data.unused[i].model].fqn; }, cls: 'mono' },
      { title: 'Rules', value: function (i) { return data.unused[i].rules.map(function (r) { return rules[r].source; }).join(' '); }, cls: 'mono' }
    ], data.unused.length, function (i) {
      var u = data.unused[i];
      return principalMatches(principals[u.principal]) && modelMatches(models[u.model]);
    }));
  }

  add(Table('identities', [
    { title: 'Change', value: function (i) { return data.identity_changes[i].change; } },
    { title: 'Kind', value: function (i) { return data.identity_changes[i].kind; } },
    { title: 'Name', value: function (i) { return data.identity_changes[i].name; } },
    { title: 'Previous', value: function (i) { return data.identity_changes[i].previous; } },
    { title: 'Id', value: function (i) { return data.identity_changes[i].id; }, cls: 'mono' },
    { title: 'Commit', value: function (i) { var c = commits[data.identity_changes[i].commit]; return short(c.id) + ' ' + c.subject; } }
  ], data.identity_changes.length, function (i) { return has(data.identity_changes[i].name, filters.principal) || has(data.identity_changes[i].previous, filters.principal); }));

  function refilterAll() { tables.forEach(function (t) { t.refilter(); }); }
  ['principal', 'team', 'model', 'account'].forEach(function (name) {
    var input = document.getElementById('filter-' + name);
    var timer = 0;
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { filters[name] = input.value.trim().toLowerCase(); refilterAll(); }, 150);
    });
  });
  window.addEventListener('beforeprint', function () { tables.forEach(function (t) { t.print(true); }); });
  window.addEventListener('afterprint', function () { tables.forEach(function (t) { t.print(false); }); });
  refilterAll();
  document.body.setAttribute('data-ready', 'true');
})();
`;
