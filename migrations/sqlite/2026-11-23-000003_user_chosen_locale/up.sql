-- The locale a user picked in the bot (set_locale); it wins over the profile's locale.
ALTER TABLE users ADD COLUMN chosen_locale TEXT;
