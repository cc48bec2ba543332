// Users page (admins only): the people who sign in to the dashboard and their roles. Add one
// (admin: everything; viewer: usage, requests and health, read-only), change a role or set a
// password, delete one (their sessions end at once). The bootstrap admin can only get a new
// password.

import { del, get, patch, post, seg } from "../api.js";
import {
  badge, busy, button, card, confirmAction, el, empty, errorBox, field, input, loading, messageSlot, mount, notify,
  openDialog, select, table, timeEl,
} from "../dom.js";

const ROLES = [["viewer", "viewer (read-only)"], ["admin", "admin"]];

export async function render(root, ctx) {
  const list = el("div", { id: "users-list" }, loading("Loading users…"));
  const name = input({ name: "name", required: true, autocomplete: "off", placeholder: "e.g. ann", pattern: "[A-Za-z0-9._\\-]{1,64}" });
  const role = select(ROLES, { name: "role", value: "viewer" });
  const password = input({ name: "password", type: "password", required: true, minlength: "8", autocomplete: "new-password" });
  const msg = messageSlot();
  const submit = el("button", { type: "submit" }, "Add user");
  const form = el("form", { class: "inline-form", id: "user-form" }, field("Name", name), field("Role", role), field("Password", password, { hint: "At least 8 characters." }), submit);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(submit, async () => {
      msg.set("");
      try {
        await post("/api/users", { name: name.value.trim(), role: role.value, password: password.value });
        notify(`User “${name.value.trim()}” added.`);
        name.value = "";
        password.value = "";
        await load();
      } catch (e) {
        msg.set(e.message, "error");
      }
    });
  });

  async function load() {
    try {
      const users = await get("/api/users");
      draw(users);
      ctx.setStatus(`${users.length} user${users.length === 1 ? "" : "s"}`);
    } catch (e) {
      mount(list, errorBox(e, load));
    }
  }

  function draw(users) {
    if (!users.length) {
      mount(list, empty("No users."));
      return;
    }
    mount(
      list,
      table(
        [
          { label: "Name", cell: (u) => el("strong", {}, u.name) },
          { label: "Role", cell: (u) => badge(u.role, u.role === "admin" ? "info" : "") },
          { label: "", cell: (u) => (u.builtin ? el("span", { class: "cell-sub" }, "bootstrap admin") : "") },
          { label: "Created", cell: (u) => (u.created_at ? timeEl(u.created_at) : "—") },
          { label: "", cls: "actions", cell: actions },
        ],
        users,
        { rowAttrs: (u) => ({ "data-user": u.name }), caption: "Dashboard users" },
      ),
    );
  }

  function actions(u) {
    const out = [button("Set password", () => setPassword(u), { class: "secondary small", "aria-label": `Set the password of ${u.name}` })];
    if (u.builtin) return out;
    const other = u.role === "admin" ? "viewer" : "admin";
    out.push(button(`Make ${other}`, (ev) => busy(ev.currentTarget, async () => {
      try {
        await patch(`/api/users/${seg(u.name)}`, { role: other });
        notify(`${u.name} is now ${other === "admin" ? "an admin" : "a viewer"}.`);
        await load();
      } catch (e) {
        notify(e.message, "error");
      }
    }), { class: "secondary small", "aria-label": `Make ${u.name} ${other}` }));
    out.push(button("Delete", async (ev) => {
      const btn = ev.currentTarget;
      const ok = await confirmAction(`Delete user “${u.name}”?`, { confirm: "Delete", danger: true, detail: "Their dashboard sessions end at once." });
      if (!ok) return;
      await busy(btn, async () => {
        try {
          await del(`/api/users/${seg(u.name)}`);
          notify(`User “${u.name}” deleted.`);
          await load();
        } catch (e) {
          notify(e.message, "error");
        }
      });
    }, { class: "danger-text small", "aria-label": `Delete user ${u.name}` }));
    return out;
  }

  function setPassword(u) {
    const pw = input({ name: "password", type: "password", required: true, minlength: "8", autocomplete: "new-password" });
    const msg2 = messageSlot();
    const save = el("button", { type: "submit" }, "Save");
    const f = el("form", {}, field("New password", pw, { hint: "At least 8 characters." }), el("div", { class: "form-actions" }, msg2, button("Cancel", () => dlg.close(), { class: "secondary" }), save));
    const dlg = openDialog(`Password of “${u.name}”`, f);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        try {
          await patch(`/api/users/${seg(u.name)}`, { password: pw.value });
          dlg.close();
          notify(`Password of “${u.name}” changed.`);
        } catch (e) {
          msg2.set(e.message, "error");
        }
      });
    });
    pw.focus();
  }

  mount(root, card("Add a user", {}, form, msg), card("Dashboard users", {}, list));
  await load();
}
