// Let a link pick the broker: "?broker=redis" opens every tab on Redis.
// sphinx-tabs restores the last chosen group tab from sessionStorage once the
// page has loaded, so storing the choice there first is all it takes.
(() => {
  const labels = { rabbitmq: "RabbitMQ", redis: "Redis" };
  const asked = new URLSearchParams(window.location.search).get("broker");
  const label = labels[(asked || "").toLowerCase()];
  if (!label) return;
  try {
    // sphinx-tabs names a group tab after its label, base64-encoded.
    window.sessionStorage.setItem("sphinx-tabs-last-selected", btoa(label));
  } catch (error) {
    // Storage is off (private mode, strict settings): keep the default tab.
  }
})();
