-- The version of autoperf (the CLI's --version, the REPL's banner, the
-- manifest's "version", ap.version).
return { VERSION = "0.1.0" }
