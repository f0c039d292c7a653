// Staff console, life policy page: the change item's parameter template fills the JSON box.
(function () {
  var data = document.getElementById("param-templates");
  var select = document.getElementById("item"), box = document.getElementById("params");
  if (!data || !select || !box) { return; }
  var templates = JSON.parse(data.textContent);
  function fill(force) { if (force || !box.value.trim()) { box.value = JSON.stringify(templates[select.value] || {}); } }
  select.addEventListener("change", function () { fill(true); });
  fill(false);
})();
