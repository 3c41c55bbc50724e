ALTER TABLE users DROP COLUMN chosen_locale;
