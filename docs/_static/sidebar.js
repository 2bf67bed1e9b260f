// Scroll the sidebar to the page being read: on a later page, furo's list of
// pages is longer than the screen, and the current one would sit below it.
document.addEventListener("DOMContentLoaded", () => {
  const current = document.querySelector(".sidebar-scroll .current-page > a");
  const sidebar = current?.closest(".sidebar-scroll");
  if (!current || !sidebar) return;
  const box = current.getBoundingClientRect();
  const room = sidebar.getBoundingClientRect();
  if (box.bottom > room.bottom || box.top < room.top) {
    // Only the sidebar moves (scrollIntoView would scroll the page too), and
    // at once: an animated scroll would catch the reader's eye on every page.
    const top = sidebar.scrollTop + box.top - room.top - room.height / 2;
    sidebar.scrollTo({ top, behavior: "instant" });
  }
});
