-- The rendered bodies kept for support are compressed on every finish; lz4
-- costs a fraction of the default pglz's CPU. A server built without lz4
-- keeps pglz.
DO $$
BEGIN
	ALTER TABLE notifications ALTER COLUMN body SET COMPRESSION lz4, ALTER COLUMN body_html SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 not available; rendered bodies stay pglz-compressed';
END $$;
