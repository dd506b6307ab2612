(function () {
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
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener('click', function () {
      var asc = th.dataset.dir !== 'asc';
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { delete o.dataset.dir; });
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
})();
