/* Ayni — progressive enhancement only: every form works without this file. */
(function () {
  "use strict";
  var MAX_SIDE = 1280;

  function downscale(input, status) {
    var file = input.files && input.files[0];
    if (!file || !window.createImageBitmap || !window.DataTransfer || !/^image\//.test(file.type)) return;
    createImageBitmap(file).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      if (scale >= 1 && file.size < 1500000) return;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bmp.width * scale);
      canvas.height = Math.round(bmp.height * scale);
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        if (!blob) return;
        var dt = new DataTransfer();
        dt.items.add(new File([blob], (file.name || "photo").replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }));
        input.files = dt.files;
        if (status) status.textContent = status.getAttribute("data-resized") || "";
        input.setAttribute("data-downscaled", canvas.width + "x" + canvas.height);
      }, "image/jpeg", 0.85);
    }).catch(function () { /* keep the original file */ });
  }

  function districtSearch(form) {
    var q = form.querySelector("[data-district-q]");
    var select = document.querySelector("[data-district-select]");
    var count = document.querySelector("[data-district-count]");
    var timer = null;
    if (!q || !select || !window.fetch) return;
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = q.value.trim();
        if (text.length < 2) return;
        fetch("/v1/districts?limit=25&q=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (page) {
            select.innerHTML = "";
            page.items.forEach(function (d) {
              var opt = document.createElement("option");
              opt.value = d.ubigeo;
              opt.textContent = d.distrito + " — " + d.provincia + ", " + d.departamento;
              select.appendChild(opt);
            });
            var hidden = document.querySelector("input[name=q][type=hidden]");
            if (hidden) hidden.value = text;
            if (count) count.textContent = (count.getAttribute("data-template") || "{n}").replace("{n}", page.items.length);
          })
          .catch(function () {});
      }, 250);
    });
  }

  function geolocate() {
    var device = document.getElementById("loc-device");
    var status = document.querySelector("[data-geo-status]");
    if (!device || !navigator.geolocation) return;
    device.addEventListener("change", function () {
      if (!device.checked) return;
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.querySelector("[data-geo-lat]").value = pos.coords.latitude.toFixed(5);
        document.querySelector("[data-geo-lon]").value = pos.coords.longitude.toFixed(5);
        if (status) status.textContent = status.getAttribute("data-ok") || "";
      }, function () {
        if (status) status.textContent = status.getAttribute("data-fail") || "";
      }, { enableHighAccuracy: false, timeout: 10000 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    var photo = document.querySelector("[data-photo-form] input[type=file]");
    if (photo) photo.addEventListener("change", function () { downscale(photo, document.querySelector("[data-photo-status]")); });
    var search = document.querySelector("[data-district-search]");
    if (search) districtSearch(search);
    geolocate();
    Array.prototype.forEach.call(document.querySelectorAll("[data-back]"), function (b) {
      if (history.length < 2) return;
      b.hidden = false;
      b.addEventListener("click", function () { history.back(); });
    });
  });
})();
