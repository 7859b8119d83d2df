CREATE TABLE `calibration_sample_tiles` (
	`sample_id` integer NOT NULL,
	`z` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`task_id` text NOT NULL,
	`stratum` integer NOT NULL,
	`inclusion_prob` real NOT NULL,
	`priority` real NOT NULL,
	`building_prob` real NOT NULL,
	PRIMARY KEY(`sample_id`, `z`, `x`, `y`),
	FOREIGN KEY (`sample_id`) REFERENCES `calibration_samples`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "calibration_sample_tiles_prob_check" CHECK("calibration_sample_tiles"."inclusion_prob" > 0 and "calibration_sample_tiles"."inclusion_prob" <= 1)
);
--> statement-breakpoint
CREATE TABLE `calibration_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`seed` integer NOT NULL,
	`size` integer NOT NULL,
	`design` text NOT NULL,
	`rects` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `calibration_samples_project_idx` ON `calibration_samples` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `label_imports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`source` text NOT NULL,
	`purpose` text NOT NULL,
	`mapswipe_project_id` text,
	`rows` integer NOT NULL,
	`stored` integer NOT NULL,
	`outside` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "label_imports_source_check" CHECK("label_imports"."source" in ('mapswipe-csv', 'mapswipe-geojson', 'tilelens')),
	CONSTRAINT "label_imports_purpose_check" CHECK("label_imports"."purpose" in ('sample', 'mapping'))
);
--> statement-breakpoint
CREATE INDEX `label_imports_project_idx` ON `label_imports` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `tile_labels` (
	`project_id` integer NOT NULL,
	`purpose` text NOT NULL,
	`z` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`task_id` text NOT NULL,
	`label` text NOT NULL,
	`no_count` integer,
	`yes_count` integer,
	`maybe_count` integer,
	`bad_count` integer,
	`agreement` real,
	`import_id` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`project_id`, `purpose`, `z`, `x`, `y`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`import_id`) REFERENCES `label_imports`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "tile_labels_label_check" CHECK("tile_labels"."label" in ('building', 'no_building', 'bad_imagery')),
	CONSTRAINT "tile_labels_purpose_check" CHECK("tile_labels"."purpose" in ('sample', 'mapping')),
	CONSTRAINT "tile_labels_counts_check" CHECK(coalesce("tile_labels"."no_count", 0) >= 0 and coalesce("tile_labels"."yes_count", 0) >= 0 and coalesce("tile_labels"."maybe_count", 0) >= 0 and coalesce("tile_labels"."bad_count", 0) >= 0)
);
