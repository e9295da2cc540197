/* The dashboard page: a placeholder until ui/app.js is written. */
