// The console: calls the API from the browser with the session cookie and shows what it answers.
// Mail content only ever reaches the page as text (textContent), or as the API's sanitised HTML
// inside a sandboxed frame (srcdoc); never through innerHTML.
"use strict";

(() => {
  const PAGE_SIZE = 20;
  const EVENTS_POLL_MS = 1500;
  const MAX_EVENTS_SHOWN = 50;
  const CONSOLE_PATH = "/";
  const AUTHORIZE_PATH = "/oauth/authorize";

  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    query: "",
    label: "INBOX",
    tokens: [null], // the page token of each page seen so far (Gmail pages forwards only)
    page: 0,
    nextToken: null,
    listRequest: 0,
    messages: new Map(), // id -> the list's metadata, shown while the whole message loads
    openedId: null,
    remoteImages: false,
    eventsAfter: 0,
    eventsTimer: null,
  };

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super(`HTTP ${status}`);
      this.status = status;
      this.body = body && typeof body === "object" ? body : null;
      this.code = this.body && typeof this.body.error === "string" ? this.body.error : null;
      const seconds = Number((this.body && this.body.retry_after) || retryAfter);
      this.retryAfter = Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
    }

    // API Gateway's own 404 ({"message": "Not Found"}): the route does not exist on this server.
    get missingRoute() {
      return this.status === 404 && this.code === null;
    }
  }

  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(path, {
        credentials: "same-origin",
        cache: "no-store",
        ...options,
        headers: { Accept: "application/json", ...(options.headers || {}) },
      });
    } catch (networkError) {
      throw new ApiError(0, null, null);
    }
    let body = null;
    if (response.status !== 204 && (response.headers.get("content-type") || "").includes("json")) {
      try {
        body = await response.json();
      } catch (parseError) {
        body = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, body, response.headers.get("retry-after"));
    }
    return body;
  }

  // What went wrong, in words (the API's `message` is written to be shown to anyone).
  function describe(error) {
    const message = error.body && typeof error.body.message === "string" ? error.body.message : "";
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} seconds.` : " Try again in a moment.";
    switch (true) {
      case error.status === 0:
        return "The service could not be reached. Check the connection and try again.";
      case error.status === 429:
        return `Too many requests at once: the service is rate limited.${wait}`;
      case error.code === "google_unavailable":
        return `Gmail is not answering right now.${wait}`;
      case error.code === "client_not_configured":
        return "This service is not set up yet: its Google client has not been uploaded (README, deploy step 4).";
      case error.status === 503:
        return `A service this one depends on is not answering.${wait}`;
      case error.status === 502:
        return "Google answered in a way this service did not expect. Try again later.";
      case error.code === "forbidden_origin":
        return "The request was refused because it did not come from this site. Reload the page.";
      case error.status >= 400 && error.status < 500 && message !== "":
        return message;
      default:
        return `Something went wrong (HTTP ${error.status}).${message ? " " + message : ""}`;
    }
  }

  // ---------------------------------------------------------------- small helpers

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // Gmail's snippets carry HTML entities (&#39;, &amp;, ...). Decoded here into plain text, which
  // is then set as textContent: the snippet is never parsed as HTML.
  const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
  function decodeEntities(text) {
    return String(text || "").replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,6});/gi, (whole, name) => {
      if (name[0] === "#") {
        const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
      }
      const named = NAMED_ENTITIES[name.toLowerCase()];
      return named === undefined ? whole : named;
    });
  }

  // "Ada Lovelace" <ada@example.net>  ->  Ada Lovelace
  function displayName(address) {
    const value = String(address || "").trim();
    const match = value.match(/^\s*"?([^"<]*?)"?\s*<[^>]*>\s*$/);
    return (match && match[1].trim()) || value || "(unknown sender)";
  }

  const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
  const shortDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

  function parseDate(value) {
    if (value === null || value === undefined || value === "") return null;
    const date = /^\d+$/.test(String(value)) ? new Date(Number(value)) : new Date(String(value));
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function timeElement(value, style) {
    const date = parseDate(value);
    if (!date) return element("span", null, value ? String(value) : "—");
    const node = element("time");
    node.dateTime = date.toISOString();
    const today = new Date().toDateString() === date.toDateString();
    node.textContent = style === "short" ? (today ? shortTime : shortDate).format(date) : fullDate.format(date);
    node.title = fullDate.format(date);
    return node;
  }

  function formatSize(bytes) {
    const size = Number(bytes);
    if (!Number.isFinite(size) || size < 0) return "";
    if (size < 1024) return `${size} bytes`;
    if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
    return `${(size / 1024 / 1024).toFixed(1)} MB`;
  }

  function notice(container, kind, text, action) {
    const box = element("div", `notice ${kind}`);
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.append(element("p", null, text));
    if (action) {
      const row = element("p", "actions");
      const button = element("button", "button", action.label);
      button.type = "button";
      button.addEventListener("click", () => {
        box.remove();
        action.run();
      });
      row.append(button);
      box.append(row);
    }
    container.append(box);
    return box;
  }

  function clearNotices() {
    $("notices").replaceChildren();
  }

  // An error from any call: sign-in problems change the page, the rest become readable notices.
  function handleError(error, retry) {
    if (error.status === 401 && error.code === "reauthorization_required") {
      showReauthorization(error.body, true);
      return;
    }
    if (error.status === 401) {
      showSignedOut();
      notice($("notices"), "warning", "The session has ended. Connect again to continue.");
      return;
    }
    notice($("notices"), "error", describe(error), retry ? { label: "Try again", run: retry } : null);
  }

  // Our own authorize route (from the API's authorization_url), coming back to the console.
  function reconnectHref(authorizationUrl) {
    let url;
    try {
      url = new URL(authorizationUrl, location.origin);
    } catch (invalid) {
      url = null;
    }
    if (!url || url.pathname !== AUTHORIZE_PATH) {
      url = new URL(`${AUTHORIZE_PATH}?prompt=consent`, location.origin);
    }
    if (!url.searchParams.has("return_to")) url.searchParams.set("return_to", CONSOLE_PATH);
    return url.pathname + url.search;
  }

  // ---------------------------------------------------------------- signed out / account

  function showSignedOut() {
    state.me = null;
    stopEvents();
    $("loading").hidden = true;
    $("workspace").hidden = true;
    $("signed-in-as").hidden = true;
    $("signed-out").hidden = false;
  }

  const REAUTH_REASONS = {
    invalid_grant:
      "Google no longer accepts this connection: access was removed in the Google account, the password changed, or the grant expired.",
    insufficient_scope: "The grant at Google no longer includes read access to Gmail.",
    grant_unusable: "The stored grant can no longer be read, so it cannot be used.",
    revoked: "Google refused this connection's access.",
  };

  function renderAccount(me) {
    state.me = me;
    $("loading").hidden = true;
    $("signed-out").hidden = true;
    $("workspace").hidden = false;
    $("signed-in-as").hidden = false;
    $("signed-in-as").textContent = `Signed in as ${me.email}`;
    $("account-email").textContent = me.email;
    const connected = me.status === "connected";
    $("account-status").textContent = connected ? "Connected" : "Needs reconnecting";
    $("account-connected").replaceChildren(timeElement(me.connected_at));
    $("account-synced").replaceChildren(
      me.last_sync_at ? timeElement(me.last_sync_at) : element("span", null, "Not synced yet"),
    );
    if (!connected) showReauthorization(me.reauthorization || {}, false);
    else $("reauth").hidden = true;
  }

  // After a sync or a refused mail call the account changed; a failure here changes nothing.
  function refreshAccount() {
    api("/me")
      .then((me) => me && renderAccount(me))
      .catch(() => {});
  }

  // `details`: /me's `reauthorization` ({reason, since, authorization_url}), or (`fromMailCall`)
  // the body of a 401 reauthorization_required answer ({authorization_url}), which does not say why.
  function showReauthorization(details, fromMailCall) {
    const reason = (details && details.reason) || null;
    const url = details && details.authorization_url;
    $("reauth-reason").textContent = REAUTH_REASONS[reason] || "Google no longer accepts this connection.";
    $("reconnect").href = reconnectHref(url || "");
    $("reauth").hidden = false;
    $("account-status").textContent = "Needs reconnecting";
    $("messages").replaceChildren();
    $("list-status").textContent = "Reconnect to read this mailbox.";
    $("older").disabled = true;
    $("newer").disabled = true;
    if (state.openedId) {
      $("message-status").textContent = "Reconnect to read this message.";
    }
    if (fromMailCall) refreshAccount(); // /me says why
  }

  // ---------------------------------------------------------------- the list

  function listParams() {
    const params = new URLSearchParams({ include: "metadata", maxResults: String(PAGE_SIZE) });
    if (state.query) params.set("q", state.query);
    if (state.label) params.set("labelIds", state.label);
    const token = state.tokens[state.page];
    if (token) params.set("pageToken", token);
    return params;
  }

  async function loadList() {
    const request = ++state.listRequest;
    $("list-status").textContent = "Loading messages…";
    $("messages").setAttribute("aria-busy", "true");
    try {
      const body = await api(`/messages?${listParams()}`);
      if (request !== state.listRequest) return; // a newer search or page replaced this one
      renderList(body || {});
    } catch (error) {
      if (request !== state.listRequest) return;
      $("list-status").textContent = "The messages could not be loaded.";
      handleError(error, loadList);
    } finally {
      if (request === state.listRequest) $("messages").removeAttribute("aria-busy");
    }
  }

  function renderList(body) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    state.nextToken = typeof body.nextPageToken === "string" ? body.nextPageToken : null;
    const items = messages.map((message) => {
      state.messages.set(message.id, message);
      const unread = Array.isArray(message.labelIds) && message.labelIds.includes("UNREAD");
      const link = element("a", unread ? "message-row unread" : "message-row");
      link.href = `#message=${encodeURIComponent(message.id)}`;
      link.dataset.id = message.id;
      const from = element("span", "from");
      if (unread) from.append(element("span", "visually-hidden", "Unread. "));
      from.append(document.createTextNode(displayName(message.from)));
      from.title = message.from || "";
      const date = element("span", "date");
      date.append(timeElement(message.internalDate || message.date, "short"));
      link.append(
        from,
        date,
        element("span", "subject", message.subject || "(no subject)"),
        element("span", "snippet", decodeEntities(message.snippet)),
      );
      const item = element("li");
      item.append(link);
      return item;
    });
    $("messages").replaceChildren(...items);
    const first = state.page * PAGE_SIZE + 1;
    $("list-status").textContent = messages.length
      ? `Messages ${first}–${first + messages.length - 1}${state.nextToken ? "" : " (the last page)"}.`
      : state.query || state.label !== "INBOX"
        ? "No messages match."
        : "The inbox is empty.";
    $("page-number").textContent = `Page ${state.page + 1}`;
    $("newer").disabled = state.page === 0;
    $("older").disabled = !state.nextToken;
  }

  function search(event) {
    event.preventDefault();
    state.query = $("q").value.trim();
    state.label = $("label").value;
    state.tokens = [null];
    state.page = 0;
    closeMessage(false);
    loadList();
  }

  function older() {
    if (!state.nextToken) return;
    state.tokens[state.page + 1] = state.nextToken;
    state.page += 1;
    loadList();
  }

  function newer() {
    if (state.page === 0) return;
    state.page -= 1;
    loadList();
  }

  // ---------------------------------------------------------------- one message

  function header(list, name, value) {
    if (!value) return;
    const row = element("div");
    row.append(element("dt", null, name));
    const detail = element("dd");
    if (name === "Date") detail.append(timeElement(value));
    else detail.textContent = value;
    row.append(detail);
    list.append(row);
  }

  function showMessageSection() {
    $("mailbox").hidden = true;
    $("message").hidden = false;
  }

  async function openMessage(id) {
    state.openedId = id;
    state.remoteImages = false;
    const known = state.messages.get(id) || {};
    showMessageSection();
    $("message-subject").textContent = known.subject || "Message";
    const headers = $("message-headers");
    headers.replaceChildren();
    header(headers, "From", known.from);
    header(headers, "To", known.to);
    header(headers, "Date", known.date);
    $("message-notices").replaceChildren();
    $("body-switch").hidden = true;
    $("message-html").hidden = true;
    $("message-html").removeAttribute("srcdoc");
    $("message-text").hidden = true;
    $("attachments-block").hidden = true;
    $("message-status").textContent = "Loading the message…";
    $("message-subject").focus();
    try {
      const message = await api(`/messages/${encodeURIComponent(id)}`);
      if (state.openedId !== id) return;
      renderMessage(message || {});
    } catch (error) {
      if (state.openedId !== id) return;
      $("message-status").textContent = "";
      if (error.missingRoute) {
        notice(
          $("message-notices"),
          "info",
          "Reading a whole message is not available on this server yet: it lists messages only. What the list knows is shown.",
        );
        if (known.snippet) showText(decodeEntities(known.snippet));
      } else if (error.status === 404) {
        notice($("message-notices"), "warning", "This message is no longer in the mailbox.");
      } else if (error.status === 401) {
        handleError(error);
      } else {
        notice($("message-notices"), "error", describe(error), { label: "Try again", run: () => openMessage(id) });
      }
    }
  }

  function renderMessage(message) {
    const headers = message.headers || {};
    $("message-subject").textContent = headers.subject || "(no subject)";
    const list = $("message-headers");
    list.replaceChildren();
    header(list, "From", headers.from);
    header(list, "To", headers.to);
    header(list, "Cc", headers.cc);
    header(list, "Date", headers.date || message.internalDate);
    $("message-status").textContent = "";
    if (message.truncated) {
      notice($("message-notices"), "warning", "This message is very long: only its beginning is shown.");
    }
    state.current = message;
    const hasHtml = typeof message.html === "string" && message.html !== "";
    const hasText = typeof message.text === "string" && message.text !== "";
    if (hasHtml) {
      showHtml(message.html);
    } else if (hasText) {
      showText(message.text);
    } else {
      showText("This message has no text.");
    }
    $("toggle-text").hidden = !(hasHtml && hasText);
    $("show-images").hidden = !(hasHtml && /<img\b[^>]*\bsrc\s*=\s*["']?https?:/i.test(message.html));
    $("body-switch").hidden = $("toggle-text").hidden && $("show-images").hidden;
    renderAttachments(message);
  }

  // The sanitised HTML in the sandboxed frame. The frame inherits this page's CSP; a meta policy
  // in it can only narrow that: remote images stay blocked until asked for (they tell the sender
  // when and where mail is read).
  function showHtml(html) {
    const frame = $("message-html");
    const images = state.remoteImages ? "img-src data: https:" : "img-src data:";
    const stylesheet = document.querySelector('link[rel="stylesheet"]').href;
    frame.srcdoc =
      "<!doctype html><html class=\"mail\"><head><meta charset=\"utf-8\">" +
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${location.origin}; ${images}">` +
      `<link rel="stylesheet" href="${stylesheet.replace(/"/g, "&quot;")}">` +
      `</head><body class="mail">${html}</body></html>`;
    frame.hidden = false;
    $("message-text").hidden = true;
    $("toggle-text").setAttribute("aria-pressed", "false");
    $("toggle-text").textContent = "Show plain text";
  }

  function showText(text) {
    $("message-text").textContent = text;
    $("message-text").hidden = false;
    $("message-html").hidden = true;
  }

  function toggleText() {
    const message = state.current || {};
    if ($("message-text").hidden) {
      showText(message.text || "");
      $("toggle-text").setAttribute("aria-pressed", "true");
      $("toggle-text").textContent = "Show formatted";
    } else {
      showHtml(message.html || "");
    }
  }

  function showRemoteImages() {
    state.remoteImages = true;
    $("show-images").hidden = true;
    if (state.current && state.current.html) showHtml(state.current.html);
  }

  function renderAttachments(message) {
    const attachments = Array.isArray(message.attachments) ? message.attachments : [];
    const items = attachments.map((attachment) => {
      const item = element("li");
      const button = element("button", "button", `Download ${attachment.filename || "unnamed attachment"}`);
      button.type = "button";
      button.addEventListener("click", () => download(message.id, attachment, button));
      const details = [attachment.mime_type, formatSize(attachment.size), attachment.inline ? "inline" : ""];
      item.append(button, element("span", "meta", details.filter(Boolean).join(", ")));
      return item;
    });
    $("attachments").replaceChildren(...items);
    $("attachment-status").textContent = "";
    $("attachments-block").hidden = items.length === 0;
  }

  // The API writes the attachment to private storage and answers a short-lived download URL
  // (served as an attachment, never shown inline); the browser then fetches it from there.
  async function download(messageId, attachment, button) {
    const status = $("attachment-status");
    button.disabled = true;
    status.textContent = `Preparing ${attachment.filename || "the attachment"}…`;
    try {
      const path = `/messages/${encodeURIComponent(messageId)}/attachments/${encodeURIComponent(attachment.attachment_id)}`;
      const answer = await api(path);
      const url = new URL(String((answer && answer.url) || ""), location.origin);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not a download URL");
      status.textContent = `Downloading ${answer.filename || attachment.filename || "the attachment"}.`;
      location.assign(url.href);
    } catch (error) {
      if (!(error instanceof ApiError)) status.textContent = "The download link was not usable.";
      else if (error.missingRoute) status.textContent = "Downloading attachments is not available on this server yet.";
      else if (error.status === 401) handleError(error);
      else status.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  }

  function closeMessage(restoreFocus) {
    const id = state.openedId;
    state.openedId = null;
    state.current = null;
    $("message").hidden = true;
    $("message-html").removeAttribute("srcdoc");
    $("mailbox").hidden = false;
    if (restoreFocus && id) {
      const row = [...document.querySelectorAll(".message-row")].find((link) => link.dataset.id === id);
      (row || $("mailbox-title")).focus();
    }
  }

  function route() {
    if (!state.me) return;
    const match = location.hash.match(/^#message=([^&]+)$/);
    if (match) openMessage(decodeURIComponent(match[1]));
    else if (state.openedId) closeMessage(true);
  }

  // ---------------------------------------------------------------- disconnect

  function askToDisconnect() {
    const dialog = $("confirm-disconnect");
    if (typeof dialog.showModal === "function") {
      dialog.returnValue = "";
      dialog.showModal();
    } else if (window.confirm("Disconnect this Gmail account? The service revokes its access at Google.")) {
      disconnect();
    }
  }

  async function disconnect() {
    const button = $("disconnect");
    button.disabled = true;
    try {
      await api("/oauth/disconnect", { method: "POST" });
      clearNotices();
      history.replaceState(null, "", CONSOLE_PATH);
      showSignedOut();
      notice($("notices"), "info", "Disconnected: access at Google was revoked and the stored tokens deleted.");
      $("connect").focus();
    } catch (error) {
      handleError(error, disconnect);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- local only: the event bus

  async function startEvents() {
    let status;
    try {
      status = await api("/_local/status");
    } catch (notLocal) {
      return; // deployed: no such route
    }
    if (!status || status.local !== true || !state.me) return;
    $("events").hidden = false;
    $("deliver").hidden = status.deliver !== true;
    pollEvents();
  }

  function stopEvents() {
    clearTimeout(state.eventsTimer);
    state.eventsTimer = null;
    $("events").hidden = true;
  }

  async function pollEvents() {
    clearTimeout(state.eventsTimer);
    if (!document.hidden) {
      try {
        const body = await api(`/_local/events?after=${state.eventsAfter}`);
        renderEvents((body && body.events) || []);
        if (body && Number.isInteger(body.last)) state.eventsAfter = body.last;
      } catch (error) {
        // The local stack stopped or restarted: keep trying quietly.
      }
    }
    if (state.me) state.eventsTimer = setTimeout(pollEvents, EVENTS_POLL_MS);
  }

  function renderEvents(events) {
    const list = $("event-list");
    for (const event of events) {
      const detail = event.detail || {};
      const item = element("li");
      const head = element("p", "what");
      head.append(element("span", "type", event.type), document.createTextNode(" "));
      const when = element("span", "when");
      when.append(timeElement(event.time));
      head.append(when);
      item.append(head);
      const mine = state.me && detail.user_id === state.me.user_id;
      const who = detail.email || (mine ? state.me.email : detail.user_id);
      if (who) item.append(element("p", "what", `user ${who}`));
      if (detail.subject !== undefined) {
        item.append(element("p", "what", `“${detail.subject || "(no subject)"}” from ${displayName(detail.from)}`));
      }
      if (detail.reason) item.append(element("p", "what", `reason: ${detail.reason}`));
      list.prepend(item);
    }
    while (list.children.length > MAX_EVENTS_SHOWN) list.lastElementChild.remove();
    $("events-empty").hidden = list.children.length > 0;
  }

  async function deliverTestMessage() {
    const button = $("deliver");
    const status = $("deliver-status");
    button.disabled = true;
    status.textContent = "Delivering a test message to this mailbox…";
    try {
      const answer = await api("/_local/deliver", { method: "POST" });
      if (answer && answer.sync) {
        const announced = answer.sync.new_messages;
        status.textContent = `Delivered “${answer.subject}”; the sync announced ${announced} new message${announced === 1 ? "" : "s"}.`;
      } else {
        // Gmail push is wired: the mailbox change reaches /push/gmail and a sync within seconds.
        status.textContent = `Delivered “${answer.subject}”; Gmail push announces it in a moment.`;
      }
      pollEvents();
      refreshAccount();
      if (state.page === 0 && !state.openedId) loadList();
    } catch (error) {
      status.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- start

  const NOTICES = {
    consent_again:
      "Google showed its consent screen a second time. It gives this service offline access (a refresh " +
      "token) only on a consent it shows, and the first answer came without one, because this Google " +
      "account had already granted this app some access before. The account is connected now.",
  };

  function showLandingNotice() {
    const params = new URLSearchParams(location.search);
    const text = NOTICES[params.get("notice")];
    if (params.has("notice")) history.replaceState(null, "", CONSOLE_PATH + location.hash);
    if (text) notice($("notices"), "info", text);
  }

  function wire() {
    $("search").addEventListener("submit", search);
    $("older").addEventListener("click", older);
    $("newer").addEventListener("click", newer);
    $("disconnect").addEventListener("click", askToDisconnect);
    $("confirm-disconnect").addEventListener("close", () => {
      if ($("confirm-disconnect").returnValue === "disconnect") disconnect();
      else $("disconnect").focus();
    });
    $("back").addEventListener("click", (event) => {
      event.preventDefault();
      if (location.hash) history.pushState(null, "", CONSOLE_PATH);
      closeMessage(true);
    });
    $("toggle-text").addEventListener("click", toggleText);
    $("show-images").addEventListener("click", showRemoteImages);
    $("deliver").addEventListener("click", deliverTestMessage);
    window.addEventListener("hashchange", route);
  }

  async function load() {
    let me;
    try {
      me = await api("/me");
    } catch (error) {
      $("loading").hidden = true;
      if (error.status === 401) showSignedOut();
      else handleError(error, load);
      return;
    }
    renderAccount(me);
    if (me.status === "connected") {
      loadList();
      route();
    }
    startEvents();
  }

  function start() {
    showLandingNotice();
    wire();
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
