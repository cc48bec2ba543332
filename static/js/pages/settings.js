// settings page (being built).
import { card, el, mount } from "../dom.js";

export function render(root) {
  mount(root, card("Coming soon", {}, el("p", { class: "muted" }, "This page is being built.")));
}
