// Staff console, life policy page: picking another change item shows that item's own fields.
(function () {
  var select = document.getElementById("item"), form = document.getElementById("item-form");
  if (!select || !form) { return; }
  select.addEventListener("change", function () { form.submit(); });
})();
