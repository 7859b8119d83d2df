PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_imagery_sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`spec` text NOT NULL,
	`attribution` text,
	`bounds` text,
	`min_zoom` integer NOT NULL,
	`max_zoom` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	CONSTRAINT "imagery_sources_kind_check" CHECK("__new_imagery_sources"."kind" in ('pmtiles', 'xyz', 'geotiff', 'geotiff-folder'))
);
--> statement-breakpoint
INSERT INTO `__new_imagery_sources`("id", "name", "kind", "spec", "attribution", "bounds", "min_zoom", "max_zoom", "created_at") SELECT "id", "name", "kind", "spec", "attribution", "bounds", "min_zoom", "max_zoom", "created_at" FROM `imagery_sources`;--> statement-breakpoint
DROP TABLE `imagery_sources`;--> statement-breakpoint
ALTER TABLE `__new_imagery_sources` RENAME TO `imagery_sources`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `imagery_sources_name_unique` ON `imagery_sources` (`name`);--> statement-breakpoint
-- Folders were stored under the file kind (its CHECK predates them) with the real kind in the spec.
UPDATE `imagery_sources` SET `kind` = 'geotiff-folder' WHERE json_extract(`spec`, '$.kind') = 'geotiff-folder';
