// Piket's clock: a dedicated worker is not throttled like a hidden tab's chained timers.
// It posts "tick" every second, and "deadline" when the page's next escalation deadline arrives.
let deadlineTimer = null;
setInterval(() => postMessage("tick"), 1000);
onmessage = (event) => {
  if (deadlineTimer !== null) clearTimeout(deadlineTimer);
  deadlineTimer = null;
  const at = event.data && event.data.at;
  if (typeof at === "number") {
    deadlineTimer = setTimeout(() => postMessage("deadline"), Math.max(0, at - Date.now()));
  }
};
