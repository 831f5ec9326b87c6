// Progressive enhancement of the look-up form: dropping a file, and upload progress.
// The form works without it (a plain multipart POST).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("lookup-form");
  if (!form) return;
  const input = document.getElementById("work");
  const zone = document.getElementById("drop-zone");
  const status = document.getElementById("lookup-status");
  const bar = document.getElementById("lookup-progress");
  const button = form.querySelector("button[type=submit]");

  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      status.textContent = `Ready to look up ${input.files[0].name}.`;
    }
  });

  form.addEventListener("submit", (event) => {
    if (!input.files.length) return;  // the browser's own "required" message
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "text/html");  // refusals come back as pages
    button.disabled = true;
    bar.hidden = false;
    status.textContent = "Sending the file…";
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.upload.addEventListener("load", () => {
      bar.removeAttribute("value");  // indeterminate while the registry compares
      status.textContent = "Comparing it with the registry…";
    });
    request.addEventListener("load", () => {
      // Redirected (a long clip's look-up runs as a job): go to that page itself.
      if (request.responseURL && new URL(request.responseURL).pathname !== new URL(form.action).pathname) {
        window.location.assign(request.responseURL);
        return;
      }
      // The answer is a whole page (a result, or the form with a sentence saying what
      // went wrong): show it as a normal form submission would.
      const page = new DOMParser().parseFromString(request.responseText, "text/html");
      document.title = page.title;
      document.body.replaceWith(document.adoptNode(page.body));
      const main = document.getElementById("main");
      if (main) main.focus();
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      bar.hidden = true;
      status.textContent = "The file could not be sent: check your connection and try again.";
    });
    request.send(new FormData(form));
  });
});

// The opt-out form: a chosen work's SHA-256, computed here; the file is never sent.
document.addEventListener("DOMContentLoaded", () => {
  const chooser = document.getElementById("digest-file");
  const field = document.getElementById("sha256");
  if (!chooser || !field || !window.crypto || !window.crypto.subtle) return;
  chooser.addEventListener("change", async () => {
    const file = chooser.files[0];
    if (!file) return;
    const digest = await window.crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    field.value = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  });
});

// A long clip's look-up: follow the job's progress, then show the answer.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("lookup-job");
  if (!box) return;
  const bar = document.getElementById("job-progress");
  const status = document.getElementById("job-status");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const job = await response.json();
        if (job.state !== "queued" && job.state !== "running") {
          window.location.reload();
          return;
        }
        if (job.seconds_total) bar.max = job.seconds_total;
        bar.value = job.seconds_done;
        status.textContent = job.state === "queued" ? "Waiting for a free worker."
          : `${Math.round(job.seconds_done)} of ${Math.round(job.seconds_total || 0)} seconds compared.`;
      }
    } catch (error) {
      status.textContent = "The registry did not answer; trying again.";
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 1000);
});
