-- Fineract's two databases (the tenant store and the default tenant), owned by the `fineract` user that the
-- MariaDB image creates from MARIADB_USER and MARIADB_PASSWORD before it runs this file.
CREATE DATABASE IF NOT EXISTS `fineract_tenants`;
CREATE DATABASE IF NOT EXISTS `fineract_default`;
GRANT ALL PRIVILEGES ON `fineract_tenants`.* TO 'fineract'@'%';
GRANT ALL PRIVILEGES ON `fineract_default`.* TO 'fineract'@'%';
FLUSH PRIVILEGES;
