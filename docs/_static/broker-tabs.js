// The reader's broker: chosen once, kept across pages, browser tabs and visits.
//
// A link may pick it ("?broker=redis"); otherwise the last choice, kept in
// localStorage, holds. sphinx-tabs opens the group tab named in
// sessionStorage when the page has loaded, so storing the choice there first
// opens every tab on it. A click on a tab stores the new choice and puts it
// in the address, so a copied link shows what the reader saw.
(() => {
  const labels = { rabbitmq: "RabbitMQ", redis: "Redis" };
  const STORED = "guide-broker";
  const url = new URL(window.location.href);
  const asked = url.searchParams.get("broker");
  const known = (value) => Object.hasOwn(labels, (value || "").toLowerCase());
  const storage = (name) => {
    try {
      return window[name];
    } catch (error) {
      return null; // Storage is off: the choice lasts for this page only.
    }
  };
  const choose = (broker, { inAddress }) => {
    try {
      storage("localStorage")?.setItem(STORED, broker);
      // sphinx-tabs names a group tab after its label, base64-encoded.
      storage("sessionStorage")?.setItem(
        "sphinx-tabs-last-selected",
        btoa(labels[broker]),
      );
    } catch (error) {
      // Storage is full or refused: the choice lasts for this page only.
    }
    if (inAddress) {
      url.searchParams.set("broker", broker);
      window.history.replaceState(window.history.state, "", url);
    }
  };

  let stored = null;
  try {
    stored = storage("localStorage")?.getItem(STORED) ?? null;
  } catch (error) {
    // As above: no stored choice.
  }
  const choice = known(asked) ? asked.toLowerCase() : known(stored) ? stored : null;
  if (choice) choose(choice, { inAddress: false });

  document.addEventListener("DOMContentLoaded", () => {
    const hasTabs = document.querySelector(".sphinx-tabs") !== null;
    if (choice && hasTabs) choose(choice, { inAddress: true });
    if (asked !== null && !known(asked)) {
      const note = document.createElement("p");
      note.className = "unknown-broker";
      note.setAttribute("role", "status");
      note.textContent =
        `This guide has no broker "${asked}". It covers RabbitMQ ` +
        `(?broker=rabbitmq) and Redis (?broker=redis); ` +
        `showing ${labels[choice || "rabbitmq"]}.`;
      document.querySelector("article")?.prepend(note);
    }
    document.addEventListener("click", (event) => {
      const tab = event.target.closest(".sphinx-tabs-tab.group-tab");
      const broker = tab?.textContent.trim().toLowerCase();
      if (known(broker)) choose(broker, { inAddress: true });
    });
  });
})();
