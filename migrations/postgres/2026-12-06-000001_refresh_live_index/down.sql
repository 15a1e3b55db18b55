DROP INDEX refresh_tokens_live;
