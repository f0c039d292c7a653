// Handwritten signature pad: pointer strokes on a transparent canvas, sent as a PNG data URL.
(function () {
  const canvas = document.getElementById("pad");
  if (!canvas) return;
  const form = canvas.closest("form");
  const field = document.getElementById("signature");
  const submit = document.getElementById("submit-sign");
  const ctx = canvas.getContext("2d");
  let drawing = false, strokes = 0;
  function fit() {
    const r = canvas.getBoundingClientRect();
    canvas.width = Math.round(r.width); canvas.height = Math.round(r.height);
    ctx.lineWidth = 4; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
  }
  fit();
  function pos(e) { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  canvas.addEventListener("pointerdown", (e) => { drawing = true; canvas.setPointerCapture(e.pointerId); const [x, y] = pos(e); ctx.beginPath(); ctx.moveTo(x, y); });
  canvas.addEventListener("pointermove", (e) => { if (!drawing) return; const [x, y] = pos(e); ctx.lineTo(x, y); ctx.stroke(); });
  canvas.addEventListener("pointerup", () => { if (drawing) { strokes++; submit.disabled = false; } drawing = false; });
  document.getElementById("clear-sign").addEventListener("click", () => { ctx.clearRect(0, 0, canvas.width, canvas.height); strokes = 0; submit.disabled = true; });
  form.addEventListener("submit", (e) => {
    if (!strokes) { e.preventDefault(); return; }
    field.value = canvas.toDataURL("image/png");
  });
})();
