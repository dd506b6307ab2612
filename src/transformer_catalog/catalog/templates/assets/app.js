(function () {
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // The models table: filter and sort the rows that exist (reads data-* attributes, never writes HTML).
  function table() {
    var table = document.getElementById('models');
    if (!table) return;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var q = document.getElementById('search'), fam = document.getElementById('family');
    var arch = document.getElementById('arch'), count = document.getElementById('count');
    var given = new URLSearchParams(window.location.search).get('q');
    if (given) q.value = given;
    function apply() {
      var words = q.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
      rows.forEach(function (r) {
        var ok = (!fam.value || r.dataset.family === fam.value) && (!arch.value || r.dataset.arch === arch.value) &&
          words.every(function (w) { return r.dataset.search.indexOf(w) >= 0; });
        r.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown + ' of ' + rows.length + ' models';
    }
    [q, fam, arch].forEach(function (el) { el.addEventListener('input', apply); el.addEventListener('change', apply); });
    each(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener('click', function () {
        var asc = th.dataset.dir !== 'asc';
        each(table.tHead.rows[0].cells, function (o) { delete o.dataset.dir; });
        th.dataset.dir = asc ? 'asc' : 'desc';
        var numeric = th.dataset.type === 'number';
        rows.sort(function (a, b) {
          var x = a.cells[i].dataset.sort || a.cells[i].textContent, y = b.cells[i].dataset.sort || b.cells[i].textContent;
          if (numeric) { x = parseFloat(x) || 0; y = parseFloat(y) || 0; }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    apply();
  }

  // Chart tooltips: the hovered mark's own <title>, shown at once beside the pointer (as text).
  function tooltips() {
    var tip = document.createElement('div');
    tip.id = 'tip';
    tip.hidden = true;
    document.body.appendChild(tip);
    each(document.querySelectorAll('.chart svg'), function (svg) {
      svg.addEventListener('mousemove', function (ev) {
        var el = ev.target, title = null;
        while (el && el !== svg && !title) {
          title = el.querySelector && el.querySelector(':scope > title');
          el = el.parentNode;
        }
        tip.hidden = !title;
        if (!title) return;
        tip.textContent = title.textContent;
        tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + 'px';
        tip.style.top = (ev.clientY + 14) + 'px';
      });
      svg.addEventListener('mouseleave', function () { tip.hidden = true; });
    });
  }

  // The family tree: hovering a box lights up every edge and box on its way to the roots.
  function tree() {
    var svg = document.querySelector('svg.tree');
    if (!svg) return;
    var into = {}, nodes = {};
    each(svg.querySelectorAll('.edge'), function (e) { (into[e.dataset.to] = into[e.dataset.to] || []).push(e); });
    each(svg.querySelectorAll('.node'), function (n) { nodes[n.dataset.node] = n; });
    function clear() {
      svg.classList.remove('tracing');
      each(svg.querySelectorAll('.hl'), function (el) { el.classList.remove('hl'); });
    }
    each(svg.querySelectorAll('.node'), function (node) {
      node.addEventListener('mouseenter', function () {
        clear();
        svg.classList.add('tracing');
        var todo = [node.dataset.node], seen = {};
        while (todo.length) {
          var id = todo.pop();
          if (seen[id]) continue;
          seen[id] = true;
          if (nodes[id]) nodes[id].classList.add('hl');
          (into[id] || []).forEach(function (e) {
            e.classList.add('hl');
            e.parentNode.appendChild(e);  // drawn last: on top of the faded edges
            todo.push(e.dataset.from);
          });
        }
      });
      node.addEventListener('mouseleave', clear);
    });
    var zoom = document.getElementById('zoom'), box = document.getElementById('tree-chart');
    if (zoom && box) {
      zoom.addEventListener('click', function () {
        var actual = box.classList.toggle('actual');
        zoom.setAttribute('aria-pressed', String(actual));
        zoom.textContent = actual ? 'fit to width' : 'actual size';
      });
    }
  }

  table();
  tooltips();
  tree();
})();
