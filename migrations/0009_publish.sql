CREATE TABLE `fair_imports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`name` text NOT NULL,
	`features` integer NOT NULL,
	`stored` integer NOT NULL,
	`outside` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `fair_imports_project_idx` ON `fair_imports` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `fair_predictions` (
	`import_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`z` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`task_id` text NOT NULL,
	`confidence` real,
	`geometry` text NOT NULL,
	PRIMARY KEY(`import_id`, `idx`),
	FOREIGN KEY (`import_id`) REFERENCES `fair_imports`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `fair_predictions_tile_idx` ON `fair_predictions` (`import_id`,`z`,`x`,`y`);--> statement-breakpoint
CREATE TABLE `fair_tile_signals` (
	`import_id` integer NOT NULL,
	`z` integer NOT NULL,
	`x` integer NOT NULL,
	`y` integer NOT NULL,
	`task_id` text NOT NULL,
	`polygons` integer NOT NULL,
	`confidence_max` real,
	`confidence_mean` real,
	PRIMARY KEY(`import_id`, `z`, `x`, `y`),
	FOREIGN KEY (`import_id`) REFERENCES `fair_imports`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `publications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`project_id` integer NOT NULL,
	`target` text NOT NULL,
	`base_url` text NOT NULL,
	`request` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "publications_target_check" CHECK("publications"."target" in ('mapswipe', 'tasking-manager')),
	CONSTRAINT "publications_status_check" CHECK("publications"."status" in ('in-progress', 'done', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `publications_project_idx` ON `publications` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `published_projects` (
	`publication_id` integer NOT NULL,
	`key` text NOT NULL,
	`position` integer NOT NULL,
	`kind` text NOT NULL,
	`client_id` text NOT NULL,
	`asset_client_id` text,
	`remote_id` text,
	`asset_remote_id` text,
	`stage` text NOT NULL,
	`spec` text NOT NULL,
	`remote_status` text,
	`processing_status` text,
	`status_message` text,
	`polled_at` integer,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`publication_id`, `key`),
	FOREIGN KEY (`publication_id`) REFERENCES `publications`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "published_projects_stage_check" CHECK("published_projects"."stage" in ('planned', 'created', 'asset-uploaded', 'configured', 'submitted', 'priority-areas-set', 'annotated'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `published_projects_client_id_unique` ON `published_projects` (`client_id`);