CREATE TABLE `label_objects` (
	`run_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`n` integer NOT NULL,
	`kind` text NOT NULL,
	`score` real NOT NULL,
	`area_px` real NOT NULL,
	`dx_px` real,
	`dy_px` real,
	`east_m` real,
	`north_m` real,
	`outline_px` text NOT NULL,
	`outline` text,
	`lon` real,
	`lat` real,
	`members` integer,
	PRIMARY KEY(`run_id`, `idx`, `n`),
	FOREIGN KEY (`run_id`) REFERENCES `analysis_runs`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "label_objects_kind_check" CHECK("label_objects"."kind" in ('phantom', 'missing', 'offset', 'area_offset'))
);
--> statement-breakpoint
CREATE INDEX `label_objects_kind_score_idx` ON `label_objects` (`run_id`,`kind`,`score`);