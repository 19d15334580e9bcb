// The dashboard's own script: scroll a search hit into view.
document.addEventListener("DOMContentLoaded", function () {
  var hit = document.getElementById("hit");
  if (hit) hit.scrollIntoView({block: "center"});
});
