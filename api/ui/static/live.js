// Keep a page's live part current: on each event of its stream (Server-Sent Events), render
// that part again on the server. The browser's EventSource reconnects by itself, sending the
// last event's ID, so a restarted API resumes where the page left off.
const KINDS = [
  "queued", "position", "started", "step_started", "step_passed", "step_failed", "retrying",
  "completed", "failed", "cancelled", "timed_out", "snapshot", "queue",
];

function follow(region) {
  const source = new EventSource(region.dataset.events);
  let timer = null;
  let rendering = false;
  const render = async () => {
    timer = null;
    if (rendering) return schedule();
    rendering = true;
    try {
      const answer = await fetch(region.dataset.body, { credentials: "same-origin" });
      if (answer.ok) {
        region.innerHTML = await answer.text();
        region.dataset.renders = String(Number(region.dataset.renders || "0") + 1);
      }
    } finally {
      rendering = false;
    }
  };
  const schedule = () => {
    if (timer === null) timer = setTimeout(render, 50);
  };
  for (const kind of KINDS) source.addEventListener(kind, schedule);
  source.addEventListener("open", () => {
    region.dataset.connected = "true";
    schedule();
  });
}

document.querySelectorAll("[data-events]").forEach(follow);
