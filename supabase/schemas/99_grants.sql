-- Last, once every function is declared: each one, in public and in internal, executable by
-- service_role only. The default privileges of 00_roles.sql cover functions created by the
-- role that set them, but cannot take EXECUTE away from PUBLIC; this holds whoever applied
-- the files.
select internal.secure_functions();
