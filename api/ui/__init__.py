"""The dashboard under /ui/: server-rendered pages for people, signed in with a project token
(that project) or the admin token (every project), kept live by the event streams."""
