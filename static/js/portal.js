// Entry module of every clinical page. Widgets import their shared modules by relative path, so
// that with hashed static file names every page still gets one instance of the upload queue.
import "./audio-player.js";
import "./session-timeout.js";
import "./upload-queue.js";
