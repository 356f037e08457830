# Two commands on a fresh machine: `make run` and `make test`.
# Without DATABASE_URL, both use a project-local PostgreSQL cluster in .pg/ (scripts/with-db).
PY := .venv/bin/python
WITH_DB := scripts/with-db

.PHONY: run serve test install lint format db-stop messages

.venv/.installed: pyproject.toml scripts/install
	scripts/install
	touch $@

install: .venv/.installed

# The development server, and the message worker beside it (messages print in this terminal).
run: install
	$(WITH_DB) sh -c '$(PY) manage.py migrate --noinput && $(PY) manage.py createcachetable && $(PY) manage.py seed_demo && { $(PY) manage.py send_notifications --loop & worker=$$!; trap "kill $$worker 2>/dev/null" EXIT INT TERM; $(PY) manage.py runserver 127.0.0.1:8000; }'

# Production on this machine (DEBUG=false, gunicorn, the message worker, the daily purge).
# Needs SECRET_KEY; on plain http also SECURE_SSL_REDIRECT=false SECURE_COOKIES=false.
serve: install
	scripts/serve

# The whole suite, then the browser tests again against the production server (scripts/serve).
test: install
	scripts/install-browser
	$(WITH_DB) sh -c '$(PY) manage.py check && $(PY) manage.py makemigrations --check --dry-run && .venv/bin/ruff check . && .venv/bin/ruff format --check . && $(PY) -m pytest && E2E_SERVER=production $(PY) -m pytest tests/e2e'

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: install
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

db-stop:
	scripts/with-db --stop

# The translation catalogues: `make messages` brings every locale/*/LC_MESSAGES/django.po up to
# date with the code and compiles it; `make messages LOCALE=fr` starts a new language. Needs GNU
# gettext (apt-get install gettext). Commit both the .po and the .mo.
MESSAGES_IGNORE := --ignore='.venv/*' --ignore='.pg/*' --ignore='tests/*' --ignore='scripts/*' --ignore='static/*'
# Settings are read but no database is used: any DATABASE_URL will do.
messages: export DATABASE_URL ?= postgres://unused/unused
messages: install
	$(PY) manage.py makemessages $(if $(LOCALE),--locale=$(LOCALE),--all) --add-location=file $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages $(if $(LOCALE),--locale=$(LOCALE)) --ignore=.venv --ignore=.pg
