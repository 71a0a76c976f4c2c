// The avatar picker (signup and /me/avatar/): live identity preview, photo
// upload by picker or drag and drop, progress over the /ws/preview/ socket,
// regenerate without re-uploading. Without this script every button posts
// the form; without the socket, htmx polls the photo panel.
(function () {
  "use strict";
  const picker = document.getElementById("picker");
  if (!picker) return;
  const form = picker.closest("form");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const identityImg = document.getElementById("identity-preview");
  const identityStyle = document.getElementById("identity-style");
  const styleName = document.getElementById("identity-style-name");
  const styles = JSON.parse(document.getElementById("identity-styles").textContent);  // [slug, name]
  const username = form.querySelector("input[name=username]");
  const photoInput = document.getElementById("photo-input");
  const drop = document.getElementById("photo-drop");
  const panel = document.getElementById("photo-panel");
  const jobInput = document.getElementById("preview-job");
  const maxBytes = Number(picker.dataset.maxBytes || 0);

  // --- identity preview: from the first keystroke, the avatar the account gets
  function identityUrl() {
    const params = new URLSearchParams();
    if (picker.dataset.identityMode === "signup") params.set("username", username ? username.value.trim() : "");
    params.set("style", identityStyle.value);
    return picker.dataset.identityUrl + "?" + params.toString();
  }
  let typing = null;
  function refreshIdentity(now) {
    clearTimeout(typing);
    typing = setTimeout(() => { identityImg.src = identityUrl(); }, now ? 0 : 120);
  }
  if (username) username.addEventListener("input", () => refreshIdentity(false));

  document.getElementById("identity-regenerate").addEventListener("click", (event) => {
    event.preventDefault();
    if (!styles.length) return;
    const index = styles.findIndex((style) => style[0] === identityStyle.value);
    const next = styles[(index + 1) % styles.length];
    identityStyle.value = next[0];
    styleName.textContent = next[1];
    refreshIdentity(true);
  });

  // --- the socket: progress frames for the session's own jobs
  let socket = null;
  let following = null;
  let retries = 0;
  window.previewSocketLive = false;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/preview/");
    socket.addEventListener("open", () => {
      window.previewSocketLive = true;
      retries = 0;
      if (following) follow(following);
    });
    socket.addEventListener("close", () => {
      window.previewSocketLive = false;
      if (retries++ < 5) setTimeout(connect, 1000 * retries);
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  }
  function follow(jobId) {
    following = jobId;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "follow", job: jobId }));
    }
  }
  function onFrame(frame) {
    if (frame.type === "error") {
      if (frame.job && frame.job === following) showPanel(frame.job);  // fall back to polling
      return;
    }
    if (frame.type !== "job" || frame.job !== following) return;
    if (frame.state === "done" || frame.state === "failed") {
      following = null;
      showPanel(frame.job);
      return;
    }
    const progress = panel.querySelector("[data-testid=progress]");
    if (!progress) return;
    const percent = Math.round((frame.progress || 0) * 100);
    progress.setAttribute("aria-valuenow", String(percent));
    progress.querySelector(".bar span").style.width = percent + "%";
    progress.querySelector(".progress-label").textContent = frame.label || "";
    if (frame.stage) {
      const list = progress.querySelector(".stages");
      const last = list.lastElementChild;
      if (!last || last.dataset.stage !== frame.stage) {
        if (last) last.classList.add("done");
        const item = document.createElement("li");
        item.dataset.stage = frame.stage;
        item.textContent = frame.label;
        list.appendChild(item);
        while (list.children.length > 5) list.removeChild(list.firstElementChild);  // the latest few
      }
    }
  }
  async function showPanel(jobId) {
    await htmx.ajax("GET", "/preview/jobs/" + jobId + "/", { target: "#photo-panel", swap: "innerHTML" });
    const ai = document.getElementById("choice-ai");
    if (ai) ai.checked = true;  // a new result is shown as the pick
  }

  // --- a photo: picked, or dropped
  function message(text) {
    panel.innerHTML = "";
    const p = document.createElement("p");
    p.className = "refusal";
    p.setAttribute("role", "alert");
    p.textContent = text;
    panel.appendChild(p);
  }
  function runningPanel(imageUrl) {
    panel.innerHTML =
      '<div class="panel is-running"><div class="compare"><img class="view-photo shown" alt="Your photo" width="240" height="240"></div>' +
      '<div class="progress" data-testid="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">' +
      '<div class="bar"><span style="width: 3%"></span></div><p class="progress-label">Uploading your photo</p><ol class="stages"></ol></div></div>';
    if (imageUrl) panel.querySelector("img").src = imageUrl;
  }
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    if (!response.ok) throw new Error(data.message || "Something went wrong. Please try again.");
    return data;
  }
  async function started(data) {
    jobInput.value = data.job;
    follow(data.job);
    if (!window.previewSocketLive) await showPanel(data.job);  // htmx polls it
  }
  async function upload(file) {
    if (!file) return;
    if (maxBytes && file.size > maxBytes) {
      message("That file is too big. Try a smaller photo.");
      return;
    }
    if (file.type && !file.type.startsWith("image/")) {
      message("That file is not a photo we can read. Try a JPEG, PNG or WebP.");
      return;
    }
    runningPanel(URL.createObjectURL(file));
    const body = new FormData();
    body.append("photo", file);
    try {
      await started(await post(picker.dataset.uploadUrl, body));
    } catch (error) {
      message(error.message);
    }
    photoInput.value = "";
  }
  photoInput.addEventListener("change", () => upload(photoInput.files[0]));
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("dragging")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    upload(event.dataTransfer.files[0]);
  });

  // --- after a result: toggle the view, try another look
  panel.addEventListener("click", async (event) => {
    const toggle = event.target.closest("[data-testid=view-toggle]");
    if (toggle && !event.target.closest("label")) {
      const photo = document.getElementById("choice-photo");
      const ai = document.getElementById("choice-ai");
      (ai.checked ? photo : ai).checked = true;
      return;
    }
    const again = event.target.closest("[data-testid=ai-regenerate]");
    if (!again) return;
    event.preventDefault();
    const body = new FormData();
    body.append("style", document.getElementById("look-style").value);
    body.append("background", document.getElementById("look-background").value);
    const original = panel.querySelector(".view-photo");
    try {
      const data = await post("/preview/jobs/" + jobInput.value + "/regenerate", body);
      runningPanel(original ? original.src : data.original_url);
      await started(data);
    } catch (error) {
      message(error.message);
    }
  });

  // The confirm button posts the form; the photo is already on the server.
  form.addEventListener("submit", () => { photoInput.disabled = true; });
  connect();
})();
