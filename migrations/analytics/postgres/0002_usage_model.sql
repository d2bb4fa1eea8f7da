-- Chat completions (/v1/chat/completions) add what was asked and how it ended to their usage events:
-- the model the caller named, the prompt and completion tokens, and the completeness
-- (complete | cut_off | client_disconnected | upstream_error). NULL for consume events. The report's
-- per-model breakdown groups the raw events by `model` (raw events are kept at least as long as the
-- longest report window).
ALTER TABLE analytics_usage_events ADD COLUMN model TEXT;
ALTER TABLE analytics_usage_events ADD COLUMN prompt_tokens BIGINT;
ALTER TABLE analytics_usage_events ADD COLUMN completion_tokens BIGINT;
ALTER TABLE analytics_usage_events ADD COLUMN completeness TEXT;
