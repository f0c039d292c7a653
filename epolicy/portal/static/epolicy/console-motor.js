// Staff console, 新建投保单: the coverage list follows the vehicle as it is typed. An NEV car (not a
// motorcycle, tractor or special vehicle) takes the NEV clauses: their names, their riders; 法定节假日
// 限额翻倍 is for family cars only. Items no longer offered are unchecked and hidden; the server refuses
// whatever is sent anyway. A new car without a plate has no plate field.
(function () {
  var form = document.getElementById("motor-form");
  if (!form) { return; }
  var energy = document.getElementById("f-vehicle-energy_type");
  var use = document.getElementById("f-vehicle-use_category");
  var unregistered = document.getElementById("f-vehicle-unregistered");
  var plate = document.getElementById("f-vehicle-plate");
  var nevEnergies = (form.dataset.nevEnergies || "").split(" ");
  var nevExcluded = (form.dataset.nevExcludedUses || "").split(" ");

  function clauseSet() {
    var nev = nevEnergies.indexOf(energy.value) >= 0 && nevExcluded.indexOf(use.value) < 0;
    return nev ? "nev2021" : "iac2020";
  }

  function follow() {
    var set = clauseSet(), family = use.value === "family_private";
    var rows = form.querySelectorAll("#coverages tr[data-key]");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i], box = row.querySelector("input[name=cov]");
      var offered = row.dataset.sets.split(" ").indexOf(set) >= 0 && (family || !row.dataset.familyOnly);
      if (!offered && box.checked) { box.checked = false; }
      row.hidden = !offered;
      var name = row.getAttribute("data-name-" + set);
      if (name) { row.querySelector(".cov-name").textContent = name; }
    }
  }

  function plateField() {
    if (plate && unregistered) { plate.disabled = unregistered.checked; }
  }

  energy.addEventListener("change", follow);
  use.addEventListener("change", follow);
  if (unregistered) { unregistered.addEventListener("change", plateField); plateField(); }
})();
